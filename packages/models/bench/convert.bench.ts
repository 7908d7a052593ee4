// Converting the five real models at their real sizes, with random tensors: for each role a
// checkpoint at the real config is written in the real repo's format (pytorch_model.bin or
// model.safetensors), then converted by convertModel to fp32 and to fp16, each conversion in a
// fresh process so its peak RSS (VmHWM) is its own. Prints time, peak RSS and the largest weight
// file; the goal is a peak under 1.5x that file. Benchmarks print; they never assert.
//
//   node packages/models/bench/convert.bench.ts [--only genre,image] [--precisions fp32,fp16] [--dir <scratch>]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeSafetensors, writeTorchCheckpoint, type NamedTensor } from '@curator/checkpoints';
import { clipTextWeightRequests, encoderClassifierWeightRequests, isNormWeight, t5WeightRequests, unetWeightRequests, vaeWeightRequests, type WeightRequest } from '@curator/graphs';
import { diffusersReferenceDir } from '@curator/reference';
import { convertModel, realManifest, type ConvertiblePrecision, type ModelEntry, type ModelRole } from '../src/index.ts';

const self = fileURLToPath(import.meta.url);

/** google-t5/t5-small's config.json at the pinned commit (the headline model fine-tunes the same shape). */
const t5Small = {
  architectures: ['T5ForConditionalGeneration'], d_ff: 2048, d_kv: 64, d_model: 512, decoder_start_token_id: 0, dropout_rate: 0.1, eos_token_id: 1, initializer_factor: 1.0,
  is_encoder_decoder: true, layer_norm_epsilon: 1e-6, model_type: 't5', n_positions: 512, num_heads: 8, num_layers: 6, output_past: true, pad_token_id: 0, relative_attention_num_buckets: 32, vocab_size: 32128,
};
/** finiteautomata/bertweet-base-sentiment-analysis's config.json (the parts the builder reads). */
const bertweetBase = {
  architectures: ['RobertaForSequenceClassification'], model_type: 'roberta', hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, hidden_act: 'gelu',
  max_position_embeddings: 130, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2, vocab_size: 64001, id2label: { 0: 'NEG', 1: 'NEU', 2: 'POS' },
};
/** BERT-large uncased with five labels: what the 1.34 GB AutoNLP genre checkpoint holds (its config is not public offline). */
const bertLarge = {
  architectures: ['BertForSequenceClassification'], model_type: 'bert', hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096, hidden_act: 'gelu',
  max_position_embeddings: 512, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0, vocab_size: 30522, id2label: { 0: 'business', 1: 'entertainment', 2: 'politics', 3: 'sport', 4: 'tech' },
};
/** Stable Diffusion v1's text encoder (CLIP ViT-L/14's text half), as small-stable-diffusion-v0's text_encoder/config.json. */
const clipLargeText = {
  architectures: ['CLIPTextModel'], model_type: 'clip_text_model', hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, max_position_embeddings: 77,
  hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, vocab_size: 49408, bos_token_id: 0, eos_token_id: 2, pad_token_id: 1,
};
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** Per input key of the conversion: the config and the weights file (its tensors) the real repo has. */
function checkpointOf(role: ModelRole): { configs: Record<string, Record<string, unknown>>; weights: Record<string, WeightRequest[]> } {
  switch (role) {
    case 'summarizer':
    case 'headline':
      return { configs: { config: t5Small }, weights: { weights: t5WeightRequests(t5Small) } };
    case 'sentiment':
      return { configs: { config: bertweetBase }, weights: { weights: encoderClassifierWeightRequests(bertweetBase) } };
    case 'genre':
      return { configs: { config: bertLarge }, weights: { weights: encoderClassifierWeightRequests(bertLarge) } };
    case 'image': {
      const unet = readJson(join(diffusersReferenceDir, 'ofa-small-sd-v0', 'unet.config.json'));
      const vae = readJson(join(diffusersReferenceDir, 'ofa-small-sd-v0', 'vae.config.json'));
      return {
        configs: { text_encoder_config: clipLargeText, unet_config: unet, vae_config: vae },
        weights: { text_encoder_weights: clipTextWeightRequests(clipLargeText), unet_weights: unetWeightRequests(unet), vae_weights: vaeWeightRequests(vae) },
      };
    }
  }
}

/** Seeded xorshift values, made when the writer asks for the tensor: norm scales near 1, the rest in [-0.05, 0.05). */
function randomTensor(request: WeightRequest, seed: number): NamedTensor {
  return {
    name: request.name,
    dtype: 'F32',
    shape: request.shape,
    data: () => {
      const values = new Float32Array(request.shape.reduce((a, b) => a * b, 1));
      let state = (seed * 2654435761) >>> 0 || 1;
      const offset = isNormWeight(request.name) ? 1 : 0;
      for (let i = 0; i < values.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        values[i] = offset + ((state >>> 0) / 4294967296 - 0.5) * 0.1;
      }
      return values;
    },
  };
}

function peakRssBytes(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) * 1024;
}

function entryOf(role: ModelRole): ModelEntry {
  const real = realManifest.models.find((m) => m.role === role)!;
  const unpinned = (files: ModelEntry['shared']) => files.map(({ path, key }) => (key === undefined ? { path } : { path, key }));
  return { ...real, id: `bench/${role}`, revision: 'random', shared: unpinned(real.shared), weights: unpinned(real.weights) };
}

/** Child: writes the role's random checkpoint into MODELS_DIR/bench/<role>. */
async function writeCheckpoint(role: ModelRole, modelsDir: string): Promise<void> {
  const entry = entryOf(role);
  const dir = join(modelsDir, ...entry.id.split('/'));
  const { configs, weights } = checkpointOf(role);
  for (const [key, config] of Object.entries(configs)) {
    const file = entry.shared.find((f) => f.key === key)!;
    await mkdir(dirname(join(dir, file.path)), { recursive: true });
    await writeFile(join(dir, file.path), JSON.stringify(config, null, 2));
  }
  for (const [key, requests] of Object.entries(weights)) {
    const file = entry.weights.find((f) => f.key === key)!;
    const path = join(dir, file.path);
    await mkdir(dirname(path), { recursive: true });
    const tensors = requests.map((request, index) => randomTensor(request, index + 1));
    if (path.endsWith('.safetensors')) await writeSafetensors(path, tensors);
    else await writeTorchCheckpoint(path, tensors);
  }
}

/** Child: converts MODELS_DIR/bench/<role> to one precision and prints its figures. */
async function convert(role: ModelRole, modelsDir: string, precision: ConvertiblePrecision): Promise<void> {
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const result = await convertModel(entryOf(role), modelsDir, { precisions: [precision], force: true });
  const done = result.record.conversions[precision]!;
  const outputBytes = Object.values(done.outputs).reduce((sum, o) => sum + o.size, 0);
  console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, rssBefore: before, peakRss: peakRssBytes(), outputBytes, tensors: done.tensors }));
}

function child(args: string[]): string {
  const result = spawnSync(process.execPath, [self, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}`);
  return result.stdout.trim().split('\n').at(-1)!;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, precisions: { type: 'string', default: 'fp32,fp16' }, dir: { type: 'string' }, write: { type: 'string' }, convert: { type: 'string' }, precision: { type: 'string' } } });
  if (values.write) return writeCheckpoint(values.write as ModelRole, values.dir!);
  if (values.convert) return convert(values.convert as ModelRole, values.dir!, values.precision as ConvertiblePrecision);

  const roles = (values.only?.split(',') ?? ['summarizer', 'headline', 'sentiment', 'genre', 'image']) as ModelRole[];
  const precisions = values.precisions.split(',') as ConvertiblePrecision[];
  const scratch = values.dir ?? (await mkdtemp(join(tmpdir(), 'curator-convert-bench-')));
  console.log('| model | weights (largest file) | precision | time | RSS before / peak | peak / largest file | ONNX written |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  try {
    for (const role of roles) {
      const writeStarted = performance.now();
      child(['--write', role, '--dir', scratch]);
      const writeSeconds = (performance.now() - writeStarted) / 1000;
      const entry = entryOf(role);
      const sizes = await Promise.all(entry.weights.map(async (f) => (await stat(join(scratch, ...entry.id.split('/'), ...f.path.split('/')))).size));
      const largest = Math.max(...sizes);
      const total = sizes.reduce((a, b) => a + b, 0);
      for (const precision of precisions) {
        const figures = JSON.parse(child(['--convert', role, '--dir', scratch, '--precision', precision])) as { seconds: number; rssBefore: number; peakRss: number; outputBytes: number };
        console.log(
          `| ${role} (${realManifest.models.find((m) => m.role === role)!.id}) | ${gib(total)} (${gib(largest)}) | ${precision} | ${figures.seconds.toFixed(1)} s | ${gib(figures.rssBefore)} / ${gib(figures.peakRss)} | ${(figures.peakRss / largest).toFixed(2)}x | ${gib(figures.outputBytes)} |`,
        );
      }
      console.error(`# ${role}: random checkpoint written in ${writeSeconds.toFixed(1)} s`);
      await rm(join(scratch, ...entry.id.split('/')), { recursive: true, force: true });
    }
  } finally {
    if (!values.dir) await rm(scratch, { recursive: true, force: true });
  }
}

await main();
