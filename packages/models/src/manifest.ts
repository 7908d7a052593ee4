import { z } from 'zod';
import { parseOrThrow } from '@curator/contracts';
import recordedChecksums from './checksums.json' with { type: 'json' };

export const roles = ['sentiment', 'genre', 'summarizer', 'headline', 'image'] as const;
export const roleSchema = z.enum(roles);
export type ModelRole = z.infer<typeof roleSchema>;

export const precisions = ['fp32', 'fp16', 'int8'] as const;
export const precisionSchema = z.enum(precisions);
export type Precision = z.infer<typeof precisionSchema>;

export type ModelSet = 'real' | 'test';

const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
/** A folder-safe model id such as `org/name`: two plain path segments, never `..`. */
export const modelIdSchema = z.string().regex(/^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/, 'must look like org/name').refine((id) => !id.split('/').includes('..'), 'must not contain ..');
const relativePathSchema = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').some((part) => part === '..' || part === '' || part === '.'), 'must be a plain relative path');

export const modelFileSchema = z
  .object({
    path: relativePathSchema.describe('Path inside the model folder, e.g. onnx/encoder_model.onnx'),
    /** What the file is to the code that loads it (`model`, `encoder`, `unet`, `tokenizer`, ...). */
    key: z.string().min(1).optional(),
    /** Unknown (never guessed) until an export or a verified download records it. */
    sha256: sha256Schema.optional(),
    size: z.int().min(0).optional(),
  })
  .strict();
export type ModelFile = z.infer<typeof modelFileSchema>;

export const modelSourceSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('hub'), repo: modelIdSchema }).strict().describe('Published on the Hugging Face Hub with its ONNX files.'),
  z
    .object({
      kind: z.literal('curator-export'),
      exportedFrom: modelIdSchema.describe('The PyTorch checkpoint docker/models.Dockerfile exports.'),
      exportedFromRevision: z.string().min(1),
      mirror: modelIdSchema.optional().describe('Hub repo holding our export, when one is published; else pull from S3 or a folder.'),
    })
    .strict(),
  z.object({ kind: z.literal('generated') }).strict().describe('Written locally by @curator/testmodels.'),
]);
export type ModelSource = z.infer<typeof modelSourceSchema>;

export const modelEntrySchema = z
  .object({
    role: roleSchema,
    id: modelIdSchema.describe('Folder under MODELS_DIR and the name in logs and results.'),
    revision: z.string().min(1).describe('Commit sha or tag; `main` only where the pin is still unknown.'),
    source: modelSourceSchema,
    license: z.string().optional(),
    defaultPrecision: precisionSchema.default('fp32'),
    /** Files every precision needs (configs, tokenizers). */
    shared: z.array(modelFileSchema).default([]),
    precisions: z.partialRecord(precisionSchema, z.array(modelFileSchema).min(1)),
  })
  .strict()
  .refine((entry) => entry.precisions[entry.defaultPrecision] !== undefined, { message: 'defaultPrecision must be one of the listed precisions', path: ['defaultPrecision'] });
export type ModelEntry = z.output<typeof modelEntrySchema>;
export type ModelEntryInput = z.input<typeof modelEntrySchema>;

export const manifestSchema = z.object({ set: z.enum(['real', 'test']), models: z.array(modelEntrySchema) }).strict();
export type Manifest = z.output<typeof manifestSchema>;

/**
 * Checksums recorded by the export recipe (`docker/export/export.py` writes this shape):
 * `{ "<model-id>": { "revision": "...", "files": { "<path>": { "sha256": "...", "size": 123 } } } }`.
 * They fill in sha256/size for the matching id and revision; nothing here is typed in by hand.
 */
export const checksumsSchema = z.record(
  z.string(),
  z.object({ revision: z.string(), files: z.record(z.string(), z.object({ sha256: sha256Schema, size: z.int().min(0) })) }),
);
export type Checksums = z.infer<typeof checksumsSchema>;

const file = (path: string, key?: string): ModelFile => (key === undefined ? { path } : { path, key });

const bertweetTokenizer = [file('config.json', 'config'), file('vocab.txt', 'vocab'), file('bpe.codes', 'bpe'), file('tokenizer_config.json', 'tokenizer_config'), file('special_tokens_map.json', 'special_tokens_map')];
const hfTokenizer = [file('config.json', 'config'), file('tokenizer.json', 'tokenizer'), file('tokenizer_config.json', 'tokenizer_config')];
const t5Shared = [file('config.json', 'config'), file('generation_config.json', 'generation_config'), file('tokenizer.json', 'tokenizer'), file('tokenizer_config.json', 'tokenizer_config')];
/** transformers.js layout: `onnx/<name>.onnx`, `<name>_fp16.onnx`, `<name>_quantized.onnx` (int8). */
const t5Precisions = {
  fp32: [file('onnx/encoder_model.onnx', 'encoder'), file('onnx/decoder_model_merged.onnx', 'decoder')],
  fp16: [file('onnx/encoder_model_fp16.onnx', 'encoder'), file('onnx/decoder_model_merged_fp16.onnx', 'decoder')],
  int8: [file('onnx/encoder_model_quantized.onnx', 'encoder'), file('onnx/decoder_model_merged_quantized.onnx', 'decoder')],
};
const classifierPrecisions = {
  fp32: [file('model.onnx', 'model')],
  fp16: [file('model_fp16.onnx', 'model')],
  int8: [file('model_quantized.onnx', 'model')],
};
const diffusionShared = [
  file('model_index.json', 'model_index'),
  file('scheduler/scheduler_config.json', 'scheduler_config'),
  file('tokenizer/vocab.json', 'tokenizer_vocab'),
  file('tokenizer/merges.txt', 'tokenizer_merges'),
  file('tokenizer/tokenizer_config.json', 'tokenizer_config'),
  file('tokenizer/special_tokens_map.json', 'tokenizer_special_tokens_map'),
];

/**
 * Every model Curator runs, by role. Revisions of our own exports are the tag the export was
 * published under; `main` marks a pin still to be taken (see docs/models.md, "Pinning").
 */
export const realManifestInput: { set: 'real'; models: ModelEntryInput[] } = {
  set: 'real',
  models: [
    {
      role: 'sentiment',
      id: 'finiteautomata/bertweet-base-sentiment-analysis',
      revision: 'main',
      source: { kind: 'curator-export', exportedFrom: 'finiteautomata/bertweet-base-sentiment-analysis', exportedFromRevision: 'main' },
      license: 'non-commercial research (see model card)',
      shared: bertweetTokenizer,
      precisions: { fp32: classifierPrecisions.fp32, fp16: classifierPrecisions.fp16 },
    },
    {
      role: 'genre',
      id: 'abhishek/autonlp-bbc-news-classification-37229289',
      revision: 'main',
      source: { kind: 'curator-export', exportedFrom: 'abhishek/autonlp-bbc-news-classification-37229289', exportedFromRevision: 'main' },
      shared: hfTokenizer,
      precisions: { fp32: classifierPrecisions.fp32, fp16: classifierPrecisions.fp16 },
    },
    {
      role: 'summarizer',
      id: 'Xenova/t5-small',
      revision: 'main',
      source: { kind: 'hub', repo: 'Xenova/t5-small' },
      license: 'apache-2.0',
      shared: t5Shared,
      precisions: t5Precisions,
    },
    {
      role: 'headline',
      id: 'JulesBelveze/t5-small-headline-generator',
      revision: 'main',
      source: { kind: 'curator-export', exportedFrom: 'JulesBelveze/t5-small-headline-generator', exportedFromRevision: 'main' },
      license: 'mit',
      shared: t5Shared,
      precisions: { fp32: t5Precisions.fp32, fp16: t5Precisions.fp16 },
    },
    {
      role: 'image',
      id: 'OFA-Sys/small-stable-diffusion-v0',
      revision: 'main',
      source: { kind: 'curator-export', exportedFrom: 'OFA-Sys/small-stable-diffusion-v0', exportedFromRevision: 'main' },
      license: 'openrail',
      shared: diffusionShared,
      precisions: {
        // The fp32 UNet is over protobuf's 2 GB limit, so its weights sit beside it in model.onnx_data.
        fp32: [file('text_encoder/model.onnx', 'text_encoder'), file('unet/model.onnx', 'unet'), file('unet/model.onnx_data', 'unet_weights'), file('vae_decoder/model.onnx', 'vae_decoder')],
        fp16: [file('text_encoder/model_fp16.onnx', 'text_encoder'), file('unet/model_fp16.onnx', 'unet'), file('vae_decoder/model_fp16.onnx', 'vae_decoder')],
      },
    },
  ],
};

/**
 * Tiny models with the real layouts, written by `npm run models:test` (@curator/testmodels),
 * so every code path runs without downloads. Only fp32: they are generated, never pulled.
 */
export const testManifestInput: { set: 'test'; models: ModelEntryInput[] } = {
  set: 'test',
  models: realManifestInput.models.map((entry) => ({
    role: entry.role,
    id: `curator-test/${entry.role}`,
    revision: 'generated',
    source: { kind: 'generated' },
    shared: entry.shared,
    precisions: { fp32: entry.precisions.fp32 ?? [] },
  })),
};

/** Adds recorded sha256/size to the files of entries whose id and revision match. */
export function applyChecksums(manifest: Manifest, checksums: Checksums): Manifest {
  return {
    ...manifest,
    models: manifest.models.map((entry) => {
      const recorded = checksums[entry.id];
      if (!recorded || recorded.revision !== entry.revision) return entry;
      const fill = (f: ModelFile): ModelFile => {
        const sum = recorded.files[f.path];
        return sum && f.sha256 === undefined ? { ...f, sha256: sum.sha256, size: sum.size } : f;
      };
      const filled: ModelEntry['precisions'] = {};
      for (const p of precisions) {
        const list = entry.precisions[p];
        if (list) filled[p] = list.map(fill);
      }
      return { ...entry, shared: entry.shared.map(fill), precisions: filled };
    }),
  };
}

export function parseManifest(input: unknown): Manifest {
  return parseOrThrow(manifestSchema, input);
}

export const realManifest: Manifest = applyChecksums(parseManifest(realManifestInput), parseOrThrow(checksumsSchema, recordedChecksums));
export const testManifest: Manifest = parseManifest(testManifestInput);

export function manifestFor(set: ModelSet): Manifest {
  return set === 'test' ? testManifest : realManifest;
}
