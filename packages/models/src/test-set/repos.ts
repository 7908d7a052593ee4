// A fake checkpoint repository per role: exactly the files the manifest fetches from the real
// repo (same names, same weight format), tiny configs with the real keys, seeded random tensors
// under the real state-dict names (plus the extras real checkpoints carry: tied aliases, buffers,
// the VAE's encoder), and tokenizer files in the real formats. The same converter then turns it
// into ONNX, so a test fails where a real checkpoint would.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeSafetensors, writeTorchCheckpoint, type NamedTensor } from '@curator/checkpoints';
import {
  clipTextWeightRequests,
  diffusionRandomWeights,
  encoderClassifierWeightRequests,
  randomWeights,
  t5WeightRequests,
  unetWeightRequests,
  vaeWeightRequests,
  type WeightRequest,
  type WeightSource,
} from '@curator/graphs';
import { CuratorError } from '@curator/contracts';
import type { ModelEntry, ModelRole } from '../manifest.ts';
import { bertWordPieceTokenizerFiles, bertweetTokenizerFiles } from './tokenizer-files.ts';
import { clipTokenizerFiles } from './clip-tokenizer.ts';
import { t5TokenizerFiles } from './t5-tokenizer.ts';
import { randomClassifierWeights, seededT5Weights } from './weights.ts';
import {
  genreConfig,
  headlineConfig,
  modelIndex,
  schedulerConfig,
  sentimentConfig,
  summarizerConfig,
  summarizerGenerationConfig,
  textEncoderConfig,
  unetConfig,
  vaeConfig,
} from './configs.ts';

/** A weights file: which tensors, from where, in which format (by the file's name, as the real repo). */
interface WeightsFile {
  requests: WeightRequest[];
  source: WeightSource;
  /** Tensors real checkpoints of this kind carry that the builder does not read. */
  extras?: { name: string; from?: string; shape?: number[]; ints?: number[] }[];
}

type RepoFile = string | Uint8Array | WeightsFile;

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** The role's fake repo: every file a real repo of its kind may publish, by path. */
function repoFiles(role: ModelRole): Record<string, RepoFile> {
  switch (role) {
    case 'sentiment': {
      const tokenizer = bertweetTokenizerFiles();
      const config = sentimentConfig(tokenizer.vocabSize);
      const weights: WeightsFile = {
        requests: encoderClassifierWeightRequests(config),
        source: randomClassifierWeights(2),
        extras: [{ name: 'roberta.embeddings.position_ids', shape: [1, 130], ints: Array.from({ length: 130 }, (_, i) => i) }],
      };
      return { ...tokenizer.files, 'config.json': json(config), 'pytorch_model.bin': weights, 'model.safetensors': weights };
    }
    case 'genre': {
      const tokenizer = bertWordPieceTokenizerFiles();
      const config = genreConfig(tokenizer.vocabSize);
      const weights: WeightsFile = {
        requests: encoderClassifierWeightRequests(config),
        source: randomClassifierWeights(23),
        extras: [{ name: 'bert.embeddings.position_ids', shape: [1, 128], ints: Array.from({ length: 128 }, (_, i) => i) }],
      };
      return { ...tokenizer.files, 'config.json': json(config), 'pytorch_model.bin': weights, 'model.safetensors': weights };
    }
    case 'summarizer':
    case 'headline': {
      const config = role === 'summarizer' ? summarizerConfig() : headlineConfig();
      const source = seededT5Weights(config, role === 'summarizer' ? 5 : 9);
      const requests = t5WeightRequests(config);
      // A 2020 checkpoint still carries the decoder's cross-attention bias transformers ignores.
      const crossBias = { name: 'decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight', from: 'decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight' };
      // torch.save keeps tied weights under every name; safetensors keep one (shared.weight).
      const tied = ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', 'lm_head.weight'].map((name) => ({ name, from: 'shared.weight' }));
      return {
        ...t5TokenizerFiles({ vocabSize: config.vocab_size as number }),
        'config.json': json(config),
        'generation_config.json': json(summarizerGenerationConfig()),
        'model.safetensors': { requests, source, extras: [crossBias] },
        'pytorch_model.bin': { requests, source, extras: [...tied, crossBias] },
      };
    }
    case 'image': {
      const tokenizer = clipTokenizerFiles();
      const text = textEncoderConfig(tokenizer.vocabSize, tokenizer.startId);
      const vae = vaeConfig();
      const seed = 1234;
      // The whole AutoencoderKL (encoder included), with the attention names of diffusers < 0.14,
      // which the repo's 2023 weights were saved by: query/key/value/proj_attn.
      const vaeWeights: WeightsFile = { requests: vaeWeightRequests(vae, 'legacy'), source: diffusionRandomWeights(seed) };
      const textWeights: WeightsFile = {
        requests: clipTextWeightRequests(text),
        source: randomWeights(seed),
        extras: [{ name: 'text_model.embeddings.position_ids', shape: [1, 77], ints: Array.from({ length: 77 }, (_, i) => i) }],
      };
      const unetWeights: WeightsFile = { requests: unetWeightRequests(unetConfig), source: diffusionRandomWeights(seed) };
      return {
        'model_index.json': json(modelIndex),
        'scheduler/scheduler_config.json': json(schedulerConfig),
        ...Object.fromEntries(Object.entries(tokenizer.files).map(([name, content]) => [`tokenizer/${name}`, content])),
        'text_encoder/config.json': json(text),
        'text_encoder/pytorch_model.bin': textWeights,
        'text_encoder/model.safetensors': textWeights,
        'unet/config.json': json(unetConfig),
        'unet/diffusion_pytorch_model.bin': unetWeights,
        'unet/diffusion_pytorch_model.safetensors': unetWeights,
        'vae/config.json': json(vae),
        'vae/diffusion_pytorch_model.bin': vaeWeights,
        'vae/diffusion_pytorch_model.safetensors': vaeWeights,
      };
    }
  }
}

function float32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

async function writeWeights(path: string, file: WeightsFile): Promise<void> {
  const safetensors = path.endsWith('.safetensors');
  const tensors: NamedTensor[] = file.requests.map((request) => ({ name: request.name, dtype: 'F32', shape: request.shape, data: async () => float32Bytes(await file.source.get(request.name, request.shape)) }));
  for (const extra of file.extras ?? []) {
    if (extra.ints) {
      tensors.push({ name: extra.name, dtype: 'I64', shape: extra.shape!, data: new Uint8Array(BigInt64Array.from(extra.ints, BigInt).buffer) });
      continue;
    }
    const original = file.requests.find((r) => r.name === extra.from);
    if (!original) throw new Error(`${extra.name}: no ${extra.from} to copy`);
    // transformers' safetensors keep one copy of tied weights: shared.weight.
    if (safetensors && extra.from === 'shared.weight') continue;
    tensors.push({ name: extra.name, dtype: 'F32', shape: original.shape, data: async () => float32Bytes(await file.source.get(original.name, original.shape)) });
  }
  await mkdir(dirname(path), { recursive: true });
  if (safetensors) await writeSafetensors(path, tensors, { format: 'pt' });
  else await writeTorchCheckpoint(path, tensors);
}

/**
 * Writes the fake checkpoint repo of `entry`'s role into `dir`: the files the manifest lists, no
 * more, no fewer. A listed file the generator cannot make is an error (the manifest and the
 * generator must change together).
 */
export async function writeTestCheckpoint(entry: Pick<ModelEntry, 'role' | 'shared' | 'weights'>, dir: string): Promise<string[]> {
  const available = repoFiles(entry.role);
  const paths = [...entry.shared, ...entry.weights].map((f) => f.path);
  const unknown = paths.filter((path) => !(path in available));
  if (unknown.length > 0) throw new CuratorError('internal_error', `The ${entry.role} test repo cannot make ${unknown.join(', ')} (it makes ${Object.keys(available).join(', ')})`);
  for (const path of paths) {
    const content = available[path]!;
    const target = join(dir, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    if (typeof content === 'string' || content instanceof Uint8Array) await writeFile(target, content);
    else await writeWeights(target, content);
  }
  return paths;
}
