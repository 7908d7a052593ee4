// One conversion: a checkpoint folder's configs and weights -> the ONNX files of one precision,
// written by @curator/graphs' builders. Synchronous float work (float16 rounding, transposes) makes
// this heavy, so it runs in a worker thread (convert-thread.ts); nothing here assumes it.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { openCheckpoint, type CheckpointReader } from '@curator/checkpoints';
import {
  clipTextWeightRequests,
  encoderClassifierWeightRequests,
  parseUnetConfig,
  parseVaeConfig,
  t5WeightRequests,
  unetWeightRequests,
  vaeAttentionKeysOf,
  buildVaeDecoder,
  WeightBinder,
  type VaeAttentionKeys,
  writeClipTextEncoder,
  writeEncoderClassifier,
  writeT5,
  writeUnet,
  writeVaeDecoder,
  type WeightRequest,
  type WrittenOnnxModel,
} from '@curator/graphs';
import { CuratorError } from '@curator/contracts';
import { checkpointWeights, unusedTensors, type CheckpointWeights } from './checkpoint-weights.ts';
import { conversionOutputs, ignoredTensors, type ConverterBuilder, type ConvertiblePrecision } from './recipes.ts';

/** Stable Diffusion v1's text encoder runs on 77 tokens; diffusers' own ONNX script exports int32 ids. */
const clipSequenceLength = 77;

export interface ConversionJob {
  builder: ConverterBuilder;
  precision: ConvertiblePrecision;
  /** Absolute paths of the checkpoint files, by manifest key (`config`, `weights`, `unet_weights`...). */
  inputs: Record<string, string>;
  /** Folder the outputs are written into, at their paths from `conversionOutputs`. */
  outDir: string;
}

export interface ConversionProgress {
  /** The part being written (`encoder_model`, `unet`...). */
  part: string;
  /** Checkpoint tensors read so far (each counted once) and how many the model has. */
  tensors: number;
  totalTensors: number;
  /** Float32 bytes of those tensors. */
  bytes: number;
  totalBytes: number;
  phase: 'converting' | 'hashing';
}

export interface ConvertedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface ConversionOutcome {
  outputs: ConvertedFile[];
  /** Checkpoint tensors read (unique). */
  tensors: number;
  /** Checkpoint tensors left out on purpose (tied aliases, buffers, the VAE encoder). */
  ignoredTensors: number;
  /** Config keys the builders neither read nor refused (diffusers ignores unknown keys too). */
  ignoredConfigKeys: string[];
}

async function readConfig(path: string): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new CuratorError('checkpoint_invalid', `${path}: ${(error as Error).message}`, { cause: error });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new CuratorError('checkpoint_invalid', `${path}: not a JSON object`);
  return value as Record<string, unknown>;
}

function input(job: ConversionJob, key: string): string {
  const path = job.inputs[key];
  if (!path) throw new CuratorError('validation_failed', `The ${job.builder} conversion needs the checkpoint file with key ${key}; the manifest lists none`);
  return path;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Counts unique checkpoint tensors as the builders read them, against the total the configs imply. */
class ProgressCounter {
  tensors = 0;
  bytes = 0;
  totalTensors = 0;
  totalBytes = 0;
  part = '';
  private readonly report: (progress: ConversionProgress) => void;

  constructor(report: (progress: ConversionProgress) => void) {
    this.report = report;
  }

  /** Adds a component's tensors to the total, each checkpoint name once. */
  plan(requests: readonly WeightRequest[], weights: CheckpointWeights): void {
    const seen = new Set<string>();
    for (const request of requests) {
      const name = weights.locate(request.name)?.name ?? request.name;
      if (seen.has(name)) continue;
      seen.add(name);
      this.totalTensors++;
      this.totalBytes += request.shape.reduce((a, b) => a * b, 1) * 4;
    }
  }

  read(bytes: number): void {
    this.tensors++;
    this.bytes += bytes;
    this.emit('converting');
  }

  emit(phase: ConversionProgress['phase']): void {
    this.report({ part: this.part, tensors: this.tensors, totalTensors: this.totalTensors, bytes: this.bytes, totalBytes: this.totalBytes, phase });
  }
}

interface Component {
  part: string;
  reader: CheckpointReader;
  weights: CheckpointWeights;
  ignore: readonly RegExp[];
  requests: WeightRequest[];
  write: () => Promise<WrittenOnnxModel[]>;
}

async function openComponent(
  part: string,
  weightsPath: string,
  counter: ProgressCounter,
  ignore: readonly RegExp[],
  options: Parameters<typeof checkpointWeights>[1],
  requests: (weights: CheckpointWeights, reader: CheckpointReader) => WeightRequest[],
  write: (weights: CheckpointWeights, reader: CheckpointReader) => Promise<WrittenOnnxModel[]>,
): Promise<Component> {
  const reader = await openCheckpoint(weightsPath);
  const weights = checkpointWeights(reader, { ...options, onFirstRead: (_name, bytes) => counter.read(bytes) });
  return { part, reader, weights, ignore, requests: requests(weights, reader), write: () => write(weights, reader) };
}

/** The tensors the VAE decoder graph reads (vaeWeightRequests lists the encoder's too). */
function vaeDecoderRequests(config: Record<string, unknown>, attentionKeys: VaeAttentionKeys): WeightRequest[] {
  const binder = new WeightBinder({ get: () => Promise.reject(new Error('names only')) });
  buildVaeDecoder(config, binder, { attentionKeys });
  return binder.requested;
}

/** T5: shared.weight stands in for the tied names a safetensors file does not repeat. */
const t5Aliases = {
  'lm_head.weight': ['shared.weight'],
  'encoder.embed_tokens.weight': ['shared.weight'],
  'decoder.embed_tokens.weight': ['shared.weight'],
  // A conversion that kept another of the tied names instead.
  'shared.weight': ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'],
};

async function components(job: ConversionJob, counter: ProgressCounter): Promise<{ components: Component[]; ignoredConfigKeys: string[] }> {
  const { precision } = job;
  const out = (key: string) => join(job.outDir, conversionOutputs(job.builder, precision).find((f) => f.key === key)!.path);
  switch (job.builder) {
    case 't5': {
      const config = await readConfig(input(job, 'config'));
      const component = await openComponent(
        'encoder_model, decoder_model_merged',
        input(job, 'weights'),
        counter,
        ignoredTensors['t5']!,
        { aliases: t5Aliases },
        () => t5WeightRequests(config),
        async (weights) => (await writeT5(job.outDir, config, weights, { precision, parts: ['encoder_model', 'decoder_model_merged'] })).files,
      );
      return { components: [component], ignoredConfigKeys: [] };
    }
    case 'encoder-classifier': {
      const config = await readConfig(input(job, 'config'));
      const component = await openComponent(
        'model',
        input(job, 'weights'),
        counter,
        ignoredTensors['encoder-classifier']!,
        {},
        () => encoderClassifierWeightRequests(config),
        async (weights) => [(await writeEncoderClassifier(out('model'), config, weights, { precision })).file],
      );
      return { components: [component], ignoredConfigKeys: [] };
    }
    case 'stable-diffusion': {
      const [textConfig, unetConfig, vaeConfig] = await Promise.all([readConfig(input(job, 'text_encoder_config')), readConfig(input(job, 'unet_config')), readConfig(input(job, 'vae_config'))]);
      // Refused configs fail here, before any weight is read.
      const ignoredConfigKeys = [...parseUnetConfig(unetConfig).ignoredKeys.map((k) => `unet/config.json: ${k}`), ...parseVaeConfig(vaeConfig).ignoredKeys.map((k) => `vae/config.json: ${k}`)];
      const list: Component[] = [];
      try {
        list.push(
          await openComponent(
            'text_encoder',
            input(job, 'text_encoder_weights'),
            counter,
            ignoredTensors['text_encoder']!,
            { optionalPrefix: 'text_model.' },
            () => clipTextWeightRequests(textConfig),
            async (weights) => [(await writeClipTextEncoder(out('text_encoder'), textConfig, weights, { precision, inputIdsType: 'int32', sequenceLength: clipSequenceLength })).file],
          ),
        );
        list.push(
          await openComponent(
            'unet',
            input(job, 'unet_weights'),
            counter,
            ignoredTensors['unet']!,
            {},
            () => unetWeightRequests(unetConfig),
            async (weights) => [
              (await writeUnet(out('unet'), unetConfig, weights, { precision, timestepType: 'int64', ...(precision === 'fp32' ? { externalData: { file: 'model.onnx_data', minTensorBytes: 1024 } } : {}) })).file,
            ],
          ),
        );
        list.push(
          await openComponent(
            'vae_decoder',
            input(job, 'vae_weights'),
            counter,
            ignoredTensors['vae']!,
            {},
            (_weights, reader) => vaeDecoderRequests(vaeConfig, vaeAttentionKeysOf(reader.tensors().map((t) => t.name))),
            async (weights, reader) => [(await writeVaeDecoder(out('vae_decoder'), vaeConfig, weights, { precision, attentionKeys: vaeAttentionKeysOf(reader.tensors().map((t) => t.name)) })).file],
          ),
        );
      } catch (error) {
        await Promise.all(list.map((c) => c.reader.close()));
        throw error;
      }
      return { components: list, ignoredConfigKeys };
    }
  }
}

/**
 * Converts the checkpoint files of `job.inputs` into `job.outDir`: every output of the precision,
 * then their sha256. Refuses a checkpoint whose tensors the builders did not all account for.
 */
export async function runConversion(job: ConversionJob, onProgress: (progress: ConversionProgress) => void = () => {}): Promise<ConversionOutcome> {
  const counter = new ProgressCounter(onProgress);
  const { components: parts, ignoredConfigKeys } = await components(job, counter);
  const written: WrittenOnnxModel[] = [];
  let ignored = 0;
  try {
    for (const part of parts) counter.plan(part.requests, part.weights);
    for (const part of parts) {
      counter.part = part.part;
      counter.emit('converting');
      written.push(...(await part.write()));
      const unused = unusedTensors(part.reader, part.weights.used, part.ignore);
      if (unused.length > 0) {
        throw new CuratorError(
          'model_unsupported',
          `${part.reader.path}: ${unused.length} tensor(s) the ${part.part} graph does not use (${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''}): ` +
            'the checkpoint holds parts its config.json does not describe, so Curator will not build an approximation of it',
          { details: unused.slice(0, 20).map((name) => ({ path: name, message: 'not used by the builder' })) },
        );
      }
      ignored += part.reader.tensors().length - part.weights.used.size;
    }
  } finally {
    await Promise.all(parts.map((c) => c.reader.close()));
  }
  counter.part = 'sha256';
  counter.emit('hashing');
  const expected = conversionOutputs(job.builder, job.precision).map((f) => f.path);
  const produced = written.flatMap((file) => [file.path, ...(file.dataPath ? [file.dataPath] : [])]).map((path) => path.slice(job.outDir.length + 1).split('\\').join('/'));
  const unexpected = produced.filter((path) => !expected.includes(path));
  const absent = expected.filter((path) => !produced.includes(path));
  if (unexpected.length > 0 || absent.length > 0) {
    throw new CuratorError('internal_error', `The ${job.builder} conversion wrote ${produced.join(', ')}; the layout has ${expected.join(', ')}`);
  }
  const outputs: ConvertedFile[] = [];
  for (const path of expected) {
    const absolute = join(job.outDir, ...path.split('/'));
    outputs.push({ path, size: (await stat(absolute)).size, sha256: await sha256File(absolute) });
  }
  return { outputs, tensors: counter.tensors, ignoredTensors: ignored, ignoredConfigKeys };
}
