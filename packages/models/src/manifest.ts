import { z } from 'zod';
import { parseOrThrow } from '@curator/contracts';
import { conversionInputKeys, conversionOutputs, converterBuilderSchema, convertiblePrecisions, type ConverterBuilder, type ConvertiblePrecision } from './recipes.ts';

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
  z
    .object({ kind: z.literal('hub'), repo: modelIdSchema })
    .strict()
    .describe('A Hugging Face Hub repo: the checkpoint Curator converts (with `conversion`), or published ONNX files (without).'),
  z.object({ kind: z.literal('generated') }).strict().describe('The test set: a fake checkpoint repo written locally with seeded random tensors, then converted.'),
]);
export type ModelSource = z.infer<typeof modelSourceSchema>;

export const conversionSchema = z.object({ builder: converterBuilderSchema }).strict().describe("How the checkpoint becomes ONNX (@curator/graphs' builder for it).");
export type Conversion = z.infer<typeof conversionSchema>;

export const modelEntrySchema = z
  .object({
    role: roleSchema,
    id: modelIdSchema.describe('Folder under MODELS_DIR and the name in logs and results.'),
    revision: z.string().min(1).describe('Commit sha the files are pinned to (`generated` for the test set).'),
    source: modelSourceSchema,
    license: z.string().optional(),
    defaultPrecision: precisionSchema.default('fp32'),
    /** Files of the repo every precision needs at run time (configs, tokenizers). */
    shared: z.array(modelFileSchema).default([]),
    /** Checkpoint weight files of the repo, read only by the conversion. */
    weights: z.array(modelFileSchema).default([]),
    conversion: conversionSchema.optional(),
    /** The ONNX files of each precision: written by the conversion, or fetched where the repo publishes them. */
    precisions: z.partialRecord(precisionSchema, z.array(modelFileSchema).min(1)),
    /** Why these files and not others (a weight format chosen knowingly, a revision's quirks). */
    note: z.string().optional(),
  })
  .strict()
  .refine((entry) => entry.precisions[entry.defaultPrecision] !== undefined, { message: 'defaultPrecision must be one of the listed precisions', path: ['defaultPrecision'] })
  .superRefine((entry, ctx) => {
    if (!entry.conversion) return;
    const { builder } = entry.conversion;
    const keys = new Set([...(entry.shared ?? []), ...(entry.weights ?? [])].map((f) => f.key));
    for (const key of conversionInputKeys[builder]) if (!keys.has(key)) ctx.addIssue({ code: 'custom', message: `the ${builder} conversion reads the file with key ${key}; none is listed`, path: ['weights'] });
    for (const [precision, files] of Object.entries(entry.precisions)) {
      const expected = (convertiblePrecisions as readonly string[]).includes(precision) ? conversionOutputs(builder, precision as ConvertiblePrecision).map((f) => f.path) : undefined;
      if (!expected || expected.join() !== (files ?? []).map((f) => f.path).join()) {
        ctx.addIssue({ code: 'custom', message: `the ${builder} conversion writes ${expected?.join(', ') ?? 'nothing'} for ${precision}`, path: ['precisions', precision] });
      }
    }
  });
export type ModelEntry = z.output<typeof modelEntrySchema>;
export type ModelEntryInput = z.input<typeof modelEntrySchema>;

export const manifestSchema = z.object({ set: z.enum(['real', 'test']), models: z.array(modelEntrySchema) }).strict();
export type Manifest = z.output<typeof manifestSchema>;

const file = (path: string, key?: string, pin?: { sha256: string; size: number }): ModelFile => ({ path, ...(key === undefined ? {} : { key }), ...pin });

/** The ONNX files Curator's conversion writes, by precision (from recipes.ts). */
function converted(builder: ConverterBuilder): ModelEntryInput['precisions'] {
  return Object.fromEntries(convertiblePrecisions.map((p) => [p, conversionOutputs(builder, p).map((f) => file(f.path, f.key))]));
}

// ---------- the five real models ----------
// Pins from the Hub's own pages (commit shas, file lists) and from independent public records of
// the files' sha256 (see docs/models.md, "Where each model comes from"). A sha256 or size appears
// only where it was confirmed; the others are checked against the Hub's X-Linked-Etag (LFS files)
// and recorded on first download. The commit sha pins every file's content either way.

const pinned = (sha256: string, size: number) => ({ sha256, size });

/**
 * Every model Curator runs, by role: the Hub checkpoint at a pinned commit, the files fetched from
 * it (only those Curator reads), and the builder that converts it.
 */
export const realManifestInput: { set: 'real'; models: ModelEntryInput[] } = {
  set: 'real',
  models: [
    {
      role: 'sentiment',
      id: 'finiteautomata/bertweet-base-sentiment-analysis',
      revision: '924fc4c80bccb8003d21fe84dd92c7887717f245',
      source: { kind: 'hub', repo: 'finiteautomata/bertweet-base-sentiment-analysis' },
      license: 'non-commercial research (see model card)',
      shared: [
        file('config.json', 'config', pinned('235cb0d2042e4bddc8852f414751a7ec53d9d3b0d6f4677c73ccbe4436208cd4', 949)),
        file('vocab.txt', 'vocab'),
        file('bpe.codes', 'bpe'),
        file('tokenizer_config.json', 'tokenizer_config'),
        file('special_tokens_map.json', 'special_tokens_map'),
      ],
      weights: [file('pytorch_model.bin', 'weights')],
      conversion: { builder: 'encoder-classifier' },
      precisions: converted('encoder-classifier'),
      note: 'main has pytorch_model.bin only; model.safetensors exists only under refs/pr/3 (an unmerged SFconvertbot conversion). Main\'s pickle is read by the restricted unpickler instead.',
    },
    {
      role: 'genre',
      id: 'abhishek/autonlp-bbc-news-classification-37229289',
      revision: '7feb5c325c92f2425f7c338160cdb5afc117aaed',
      source: { kind: 'hub', repo: 'abhishek/autonlp-bbc-news-classification-37229289' },
      shared: [file('config.json', 'config'), file('tokenizer.json', 'tokenizer'), file('tokenizer_config.json', 'tokenizer_config'), file('special_tokens_map.json', 'special_tokens_map')],
      weights: [file('pytorch_model.bin', 'weights')],
      conversion: { builder: 'encoder-classifier' },
      precisions: converted('encoder-classifier'),
      note: 'main has pytorch_model.bin only (BERT-large, 1.34 GB); model.safetensors exists only under refs/pr/1 (an open SFconvertbot PR the owner never merged). Main\'s pickle is read by the restricted unpickler instead.',
    },
    {
      role: 'summarizer',
      id: 'google-t5/t5-small',
      revision: 'df1b051c49625cf57a3d0d8d3863ed4d13564fe4',
      source: { kind: 'hub', repo: 'google-t5/t5-small' },
      license: 'apache-2.0',
      shared: [
        file('config.json', 'config', pinned('530e25060e3a8d5f7b0fcf53bfea9f3601165161f3b1914676e98d97cf07bcf1', 1206)),
        file('generation_config.json', 'generation_config', pinned('f5a1c7e2be8092018d8835128987edf0111637dd98e90599cc80310fef75d95a', 147)),
        file('tokenizer.json', 'tokenizer', pinned('d2acde0d8d71dd30a711834b07781b9c89feaac33fd332f60507699282740066', 1389353)),
        file('tokenizer_config.json', 'tokenizer_config', pinned('d1e7146101aa96282057f374aa9c3b260fba2109e5990edb1775d6efc70ffa3c', 2324)),
      ],
      weights: [file('model.safetensors', 'weights', pinned('bd944e5f1b3ad9b70dd9d00010a517059e19265671076b8b0a4a58d9491842bc', 242043056))],
      conversion: { builder: 't5' },
      precisions: converted('t5'),
    },
    {
      role: 'headline',
      id: 'JulesBelveze/t5-small-headline-generator',
      revision: '4729a570fd372502c8024a2716cc7358f31ba0d3',
      source: { kind: 'hub', repo: 'JulesBelveze/t5-small-headline-generator' },
      license: 'mit',
      shared: [file('config.json', 'config'), file('tokenizer.json', 'tokenizer'), file('tokenizer_config.json', 'tokenizer_config'), file('special_tokens_map.json', 'special_tokens_map')],
      weights: [file('pytorch_model.bin', 'weights')],
      conversion: { builder: 't5' },
      precisions: converted('t5'),
      note: 'The owner\'s last commit (2022-09-28), with pytorch_model.bin; no generation_config.json (config.json carries the generation ids). A later SFconvertbot commit (bf1a8b7, adding model.safetensors) may be on main, which could not be confirmed offline.',
    },
    {
      role: 'image',
      id: 'OFA-Sys/small-stable-diffusion-v0',
      revision: '38e10e5e71e8fbf717a47a81e7543cd01c1a8140',
      source: { kind: 'hub', repo: 'OFA-Sys/small-stable-diffusion-v0' },
      license: 'openrail',
      shared: [
        file('model_index.json', 'model_index'),
        file('scheduler/scheduler_config.json', 'scheduler_config'),
        file('text_encoder/config.json', 'text_encoder_config'),
        file('tokenizer/merges.txt', 'tokenizer_merges'),
        file('tokenizer/special_tokens_map.json', 'tokenizer_special_tokens_map'),
        file('tokenizer/tokenizer_config.json', 'tokenizer_config'),
        file('tokenizer/vocab.json', 'tokenizer_vocab'),
        file('unet/config.json', 'unet_config'),
        file('vae/config.json', 'vae_config'),
      ],
      weights: [
        file('text_encoder/pytorch_model.bin', 'text_encoder_weights'),
        file('unet/diffusion_pytorch_model.bin', 'unet_weights'),
        file('vae/diffusion_pytorch_model.bin', 'vae_weights'),
      ],
      conversion: { builder: 'stable-diffusion' },
      precisions: converted('stable-diffusion'),
      note: 'main has .bin weights only, fp32 only (no fp16 variant): Curator writes fp16 from them. Safetensors exist under refs/pr/3 (a user\'s conversion made before the vae scaling_factor fix) and refs/pr/13 (SFconvertbot); neither is merged. The safety checker and feature extractor are not fetched (Curator does not run them).',
    },
  ],
};

/** The file list of a real entry with nothing pinned: what a fake repo of the test set holds. */
const unpinned = (files: readonly ModelFile[] | undefined): ModelFile[] => (files ?? []).map((f) => file(f.path, f.key));

/**
 * The test set: for each role a fake checkpoint repo with exactly the files of the real one
 * (tiny configs with the real keys, seeded random tensors in the real weight format), written by
 * `ensureTestModels` and converted by the same code as the real checkpoints.
 */
export const testManifestInput: { set: 'test'; models: ModelEntryInput[] } = {
  set: 'test',
  models: realManifestInput.models.map((entry) => ({
    role: entry.role,
    id: `curator-test/${entry.role}`,
    revision: 'generated',
    source: { kind: 'generated' },
    shared: unpinned(entry.shared),
    weights: unpinned(entry.weights),
    ...(entry.conversion ? { conversion: entry.conversion } : {}),
    precisions: Object.fromEntries(Object.entries(entry.precisions).map(([p, files]) => [p, unpinned(files)])),
  })),
};

export function parseManifest(input: unknown): Manifest {
  return parseOrThrow(manifestSchema, input);
}

export const realManifest: Manifest = parseManifest(realManifestInput);
export const testManifest: Manifest = parseManifest(testManifestInput);

export function manifestFor(set: ModelSet): Manifest {
  return set === 'test' ? testManifest : realManifest;
}
