// Checkpoint folder -> ONNX files, once: the conversion of a model folder in MODELS_DIR, staged and
// swapped in whole, recorded in curator-conversion.json (builder version, sources and outputs with
// their sha256, precision, duration) and skipped when that record still matches.
import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { CuratorError } from '@curator/contracts';
import type { ModelEntry, ModelRole } from './manifest.ts';
import { conversionInputKeys, conversionOutputs, convertiblePrecisions, type ConverterBuilder, type ConvertiblePrecision } from './recipes.ts';
import { resolveEntry, type ResolvedFile } from './resolve.ts';
import { carryOver, lockModel, safeName, stagingDirName, swapIn } from './staging.ts';
import { sha256File, type ConversionOutcome, type ConversionProgress } from './convert-run.ts';
import { convertInThread } from './convert-worker.ts';
import { fileState, readMarker, writeMarker, type VerificationMarker } from './verify.ts';

/** Beside the converted files in the model folder. */
export const conversionRecordFile = 'curator-conversion.json';

const fileSumSchema = z.object({ sha256: z.string(), size: z.number() });
const conversionRecordSchema = z.object({
  format: z.literal(1),
  id: z.string(),
  revision: z.string(),
  builder: z.string(),
  /** A digest of the builders' and readers' source code: any change there converts again. */
  builderVersion: z.string(),
  /** The checkpoint files the builder read, by path in the model folder. */
  sources: z.record(z.string(), fileSumSchema),
  conversions: z.partialRecord(
    z.enum(convertiblePrecisions),
    z.object({
      outputs: z.record(z.string(), fileSumSchema),
      durationMs: z.number(),
      convertedAt: z.string(),
      tensors: z.number(),
      ignoredTensors: z.number(),
      ignoredConfigKeys: z.array(z.string()),
    }),
  ),
});
export type ConversionRecord = z.infer<typeof conversionRecordSchema>;

export async function readConversionRecord(dir: string): Promise<ConversionRecord | undefined> {
  try {
    const parsed = conversionRecordSchema.safeParse(JSON.parse(await readFile(join(dir, conversionRecordFile), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

// ---------- the builder version ----------

/** Source folders whose code decides the bytes a conversion writes. */
const codeRoots = [
  () => dirname(fileURLToPath(import.meta.resolve('@curator/graphs'))),
  () => dirname(fileURLToPath(import.meta.resolve('@curator/checkpoints'))),
  () => dirname(fileURLToPath(import.meta.url)),
];
const conversionCode = /^(convert-run|checkpoint-weights|recipes)\.ts$/;

let versionPromise: Promise<string> | undefined;

/**
 * `sha256:<16 hex>` over the source of @curator/graphs, @curator/checkpoints and the conversion
 * code: a folder converted by other code is converted again. Computed once per process.
 */
export function builderVersion(): Promise<string> {
  versionPromise ??= (async () => {
    const hash = createHash('sha256');
    for (const [index, root] of codeRoots.entries()) {
      const dir = root();
      const names = (await readdir(dir, { recursive: true })).filter((name) => name.endsWith('.ts') && (index < 2 || conversionCode.test(name))).sort();
      for (const name of names) hash.update(`${index}/${name}\0`).update(await readFile(join(dir, name))).update('\0');
    }
    return `sha256:${hash.digest('hex').slice(0, 16)}`;
  })();
  return versionPromise;
}

// ---------- sources ----------

function inputFiles(entry: ModelEntry, files: readonly ResolvedFile[]): Record<string, ResolvedFile> {
  const builder = entry.conversion!.builder;
  const byKey: Record<string, ResolvedFile> = {};
  for (const key of conversionInputKeys[builder]) {
    const found = files.find((f) => f.key === key);
    if (!found) throw new CuratorError('validation_failed', `${entry.id}: the ${builder} conversion needs the file with key ${key}`);
    byKey[key] = found;
  }
  return byKey;
}

/** sha256 and size of each input, from the verification marker when it still holds, else hashed (and remembered). */
async function sourceSums(dir: string, inputs: Record<string, ResolvedFile>, marker: VerificationMarker | undefined, revision: string, id: string): Promise<{ sums: ConversionRecord['sources']; marker: VerificationMarker | undefined }> {
  const sums: ConversionRecord['sources'] = {};
  let next = marker;
  for (const file of Object.values(inputs)) {
    const state = await fileState(file, next);
    if (state.kind === 'missing') throw new CuratorError('model_missing', `${id}: ${file.path} is not in ${dir}; pull the checkpoint first`);
    let sha256 = state.kind === 'hashed' ? state.sha256 : undefined;
    if (sha256 === undefined) {
      sha256 = await sha256File(file.absolutePath);
      next = { id, revision, files: { ...next?.files, [file.path]: { sha256, size: state.size, mtimeMs: state.mtimeMs } } };
    }
    if (file.sha256 !== undefined && file.sha256 !== sha256) throw new CuratorError('checksum_mismatch', `${id}/${file.path}: sha256 ${sha256}, the manifest pins ${file.sha256}; pull it again`);
    sums[file.path] = { sha256, size: state.size };
  }
  return { sums, marker: next };
}

const sameSums = (a: ConversionRecord['sources'], b: ConversionRecord['sources']) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([path, sum]) => b[path]?.sha256 === sum.sha256 && b[path]?.size === sum.size);

/** Whether `precision` of the record is still good: same code, same sources, outputs on disk at their recorded sizes. */
async function recordHolds(record: ConversionRecord | undefined, dir: string, precision: ConvertiblePrecision, version: string, sources: ConversionRecord['sources']): Promise<boolean> {
  const done = record?.conversions[precision];
  if (!record || !done || record.builderVersion !== version || !sameSums(record.sources, sources)) return false;
  for (const [path, sum] of Object.entries(done.outputs)) {
    const info = await stat(join(dir, ...path.split('/'))).catch(() => undefined);
    if (!info?.isFile() || info.size !== sum.size) return false;
  }
  return true;
}

// ---------- events ----------

export type ConvertEvent =
  | { type: 'convert-skip'; role: ModelRole; id: string; precision: ConvertiblePrecision; reason: 'up-to-date' }
  | { type: 'convert-start'; role: ModelRole; id: string; precision: ConvertiblePrecision; builder: ConverterBuilder }
  | ({ type: 'convert-progress'; role: ModelRole; id: string; precision: ConvertiblePrecision } & ConversionProgress)
  | { type: 'convert-done'; role: ModelRole; id: string; precision: ConvertiblePrecision; durationMs: number; outputs: { path: string; size: number; sha256: string }[] };

export interface ConvertOptions {
  /** Default: the entry's default precision. */
  precisions?: readonly ConvertiblePrecision[];
  onProgress?: (event: ConvertEvent) => void;
  signal?: AbortSignal;
  /** Convert again even when the record matches. */
  force?: boolean;
}

export interface ConvertResult {
  role: ModelRole;
  id: string;
  dir: string;
  converted: ConvertiblePrecision[];
  skipped: ConvertiblePrecision[];
  record: ConversionRecord;
}

function wantedPrecisions(entry: ModelEntry, options: ConvertOptions): ConvertiblePrecision[] {
  if (!entry.conversion) throw new CuratorError('validation_failed', `${entry.id} (${entry.role}) is not converted by Curator: its ONNX files are fetched as published`);
  const wanted = options.precisions ?? [entry.defaultPrecision as ConvertiblePrecision];
  for (const precision of wanted) {
    if (!convertiblePrecisions.includes(precision) || !entry.precisions[precision]) throw new CuratorError('validation_failed', `${entry.id}: Curator converts ${Object.keys(entry.precisions).join(', ')}, not ${precision}`);
  }
  return [...new Set(wanted)];
}

/**
 * Converts the checkpoint in `dir` in place, without staging or locking: for a folder nobody
 * else sees yet (the test set is written in a private folder, then renamed into place).
 */
export async function convertFolder(entry: ModelEntry, dir: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  return convertInto(entry, dir, dir, options);
}

/**
 * Converts the model of `entry` in MODELS_DIR/<id>: the checkpoint files must be there (pulled).
 * The new files are written into MODELS_DIR/.staging beside hard links of the folder's other
 * files, and the folder is swapped in by rename once every output and the record are written.
 */
export async function convertModel(entry: ModelEntry, modelsDir: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const model = resolveEntry(entry, modelsDir);
  const stagingRoot = join(modelsDir, stagingDirName);
  await mkdir(stagingRoot, { recursive: true });
  const unlock = await lockModel(join(stagingRoot, `${safeName(entry.id)}.lock`), entry.id);
  const staged = join(stagingRoot, `${safeName(entry.id)}.convert-${process.pid}`);
  try {
    // A cheap first look: nothing to do leaves the folder untouched.
    const planned = await plan(entry, model.dir, options);
    if (planned.todo.length === 0) return await finish(entry, model.dir, planned, [], options);
    await rm(staged, { recursive: true, force: true });
    await mkdir(staged, { recursive: true });
    const replaced = new Set(planned.todo.flatMap((p) => conversionOutputs(entry.conversion!.builder, p).map((f) => f.path)));
    await carryOver(model.dir, staged, (path) => replaced.has(path) || path === conversionRecordFile);
    const result = await convertInto(entry, model.dir, staged, options, planned);
    await swapIn(staged, model.dir, stagingRoot, entry.id);
    return { ...result, dir: model.dir };
  } finally {
    await rm(staged, { recursive: true, force: true }).catch(() => undefined);
    await unlock();
  }
}

interface Plan {
  version: string;
  inputs: Record<string, ResolvedFile>;
  sources: ConversionRecord['sources'];
  marker: VerificationMarker | undefined;
  record: ConversionRecord | undefined;
  todo: ConvertiblePrecision[];
  skipped: ConvertiblePrecision[];
}

async function plan(entry: ModelEntry, dir: string, options: ConvertOptions): Promise<Plan> {
  const wanted = wantedPrecisions(entry, options);
  const checkpointFiles = [...entry.shared, ...entry.weights].map((f) => ({ ...f, absolutePath: join(dir, ...f.path.split('/')) }));
  const inputs = inputFiles(entry, checkpointFiles);
  const version = await builderVersion();
  const { sums: sources, marker } = await sourceSums(dir, inputs, await readMarker(dir), entry.revision, entry.id);
  const record = await readConversionRecord(dir);
  const todo: ConvertiblePrecision[] = [];
  const skipped: ConvertiblePrecision[] = [];
  for (const precision of wanted) {
    if (!options.force && (await recordHolds(record, dir, precision, version, sources))) skipped.push(precision);
    else todo.push(precision);
  }
  return { version, inputs, sources, marker, record, todo, skipped };
}

/** Reads inputs from `sourceDir`, writes outputs, the record and the marker into `outDir`. */
async function convertInto(entry: ModelEntry, sourceDir: string, outDir: string, options: ConvertOptions, planned?: Plan): Promise<ConvertResult> {
  const builder = entry.conversion!.builder;
  const p = planned ?? (await plan(entry, sourceDir, options));
  const converted: { precision: ConvertiblePrecision; outcome: ConversionOutcome; durationMs: number }[] = [];
  for (const precision of p.todo) {
    const base = { role: entry.role, id: entry.id, precision };
    options.onProgress?.({ ...base, type: 'convert-start', builder });
    const started = performance.now();
    const outcome = await convertInThread(
      { builder, precision, outDir, inputs: Object.fromEntries(Object.entries(p.inputs).map(([key, f]) => [key, join(sourceDir, ...f.path.split('/'))])) },
      { onProgress: (progress) => options.onProgress?.({ ...base, type: 'convert-progress', ...progress }), ...(options.signal ? { signal: options.signal } : {}) },
    );
    const durationMs = Math.round(performance.now() - started);
    converted.push({ precision, outcome, durationMs });
    options.onProgress?.({ ...base, type: 'convert-done', durationMs, outputs: outcome.outputs });
  }
  return finish(entry, outDir, p, converted, options);
}

async function finish(entry: ModelEntry, dir: string, p: Plan, converted: { precision: ConvertiblePrecision; outcome: ConversionOutcome; durationMs: number }[], options: ConvertOptions): Promise<ConvertResult> {
  for (const precision of p.skipped) options.onProgress?.({ type: 'convert-skip', role: entry.role, id: entry.id, precision, reason: 'up-to-date' });
  // Conversions of other precisions stay valid only if made by this code from these sources.
  const keep = p.record && p.record.builderVersion === p.version && sameSums(p.record.sources, p.sources) ? p.record.conversions : {};
  const record: ConversionRecord = {
    format: 1,
    id: entry.id,
    revision: entry.revision,
    builder: entry.conversion!.builder,
    builderVersion: p.version,
    sources: p.sources,
    conversions: { ...keep },
  };
  let marker = p.marker ?? { id: entry.id, revision: entry.revision, files: {} };
  for (const { precision, outcome, durationMs } of converted) {
    record.conversions[precision] = {
      outputs: Object.fromEntries(outcome.outputs.map((o) => [o.path, { sha256: o.sha256, size: o.size }])),
      durationMs,
      convertedAt: new Date().toISOString(),
      tensors: outcome.tensors,
      ignoredTensors: outcome.ignoredTensors,
      ignoredConfigKeys: outcome.ignoredConfigKeys,
    };
    const files = { ...marker.files };
    for (const output of outcome.outputs) {
      const info = await stat(join(dir, ...output.path.split('/')));
      files[output.path] = { sha256: output.sha256, size: output.size, mtimeMs: info.mtimeMs };
    }
    marker = { ...marker, files };
  }
  if (converted.length > 0 || p.marker !== undefined) {
    await writeJsonAtomically(join(dir, conversionRecordFile), record);
    await writeMarker(dir, marker);
  }
  return { role: entry.role, id: entry.id, dir, converted: converted.map((c) => c.precision), skipped: p.skipped, record };
}

/**
 * What a precision of a converted model needs: `ready` (record holds, or the files came
 * converted from elsewhere), `convert` (checkpoint here, outputs missing or made by other code
 * or from other sources), `pull` (no checkpoint and no outputs).
 */
export async function conversionState(entry: ModelEntry, modelsDir: string, precision: ConvertiblePrecision): Promise<'ready' | 'convert' | 'pull'> {
  const model = resolveEntry(entry, modelsDir, precision);
  const marker = await readMarker(model.dir);
  const present = async (files: readonly ResolvedFile[]) => {
    for (const f of files) if ((await fileState(f, marker)).kind === 'missing') return false;
    return true;
  };
  const outputsHere = await present(model.files);
  const record = await readConversionRecord(model.dir);
  const checkpointHere = await present(model.checkpointFiles);
  if (outputsHere && !record) return 'ready'; // converted elsewhere (CURATOR_MODELS_EXPORTS, the Python export)
  if (outputsHere && record && record.revision === entry.revision) {
    if (!checkpointHere) return 'ready';
    const { sums } = await sourceSums(model.dir, inputFiles(entry, model.checkpointFiles), marker, entry.revision, entry.id);
    if (await recordHolds(record, model.dir, precision, await builderVersion(), sums)) return 'ready';
  }
  return checkpointHere ? 'convert' : 'pull';
}
