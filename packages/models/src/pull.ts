import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { CuratorError, isCuratorError } from '@curator/contracts';
import type { ModelRole } from './manifest.ts';
import { resolveModels, type ModelsOptions, type ResolvedFile, type ResolvedModel } from './resolve.ts';
import { describeError, sourceFor, type ModelFileSource, type S3SourceOptions } from './sources.ts';
import { carryOver, lockModel, safeName, stagingDirName, swapIn } from './staging.ts';
import { fileState, readMarker, sha256OfFile, writeMarker, type VerificationMarker } from './verify.ts';

export { stagingDirName } from './staging.ts';

export type PullEvent =
  | { type: 'model-skip'; role: ModelRole; id: string; dir: string; reason: 'present' }
  | { type: 'model-start'; role: ModelRole; id: string; source: string; files: string[] }
  | { type: 'file-start'; role: ModelRole; id: string; path: string; size?: number; resumeFrom: number }
  | { type: 'file-progress'; role: ModelRole; id: string; path: string; received: number; size?: number }
  | { type: 'file-retry'; role: ModelRole; id: string; path: string; attempt: number; message: string }
  | { type: 'file-restart'; role: ModelRole; id: string; path: string; reason: string }
  | { type: 'file-done'; role: ModelRole; id: string; path: string; size: number; sha256: string; checked: boolean }
  | { type: 'model-done'; role: ModelRole; id: string; dir: string };

export interface PullOptions extends ModelsOptions {
  roles?: readonly ModelRole[];
  /** `hub`, an `s3://bucket/prefix`, an http(s) Hub mirror, or a folder laid out like MODELS_DIR. */
  from?: string;
  /** HF_ENDPOINT; default https://huggingface.co. */
  hfEndpoint?: string;
  /** HF_TOKEN: sent to the Hub's own host only. */
  hfToken?: string;
  /**
   * With `from` the Hub: where the converted ONNX files of the models Curator converts come from
   * instead (`s3://bucket/prefix` or a folder laid out like MODELS_DIR): no checkpoint download,
   * no conversion (CURATOR_MODELS_EXPORTS).
   */
  exportsFrom?: string;
  /** S3 client settings for an s3:// source. */
  s3?: Omit<S3SourceOptions, 'url'>;
  /** Files downloaded at once across all models. */
  concurrency?: number;
  /** Resumed attempts per file after a broken transfer, within one pull. */
  retries?: number;
  /** Pause before the first retry (grows linearly with each); default 500. */
  retryDelayMs?: number;
  onProgress?: (event: PullEvent) => void;
  signal?: AbortSignal;
  /** Replaces the source built from `from` (tools, tests). */
  source?: ModelFileSource;
  /**
   * For models Curator converts: fetch their converted ONNX files (a mirror of MODELS_DIR) rather
   * than the checkpoint. Default: true for an s3:// or folder source, false for the Hub.
   */
  converted?: boolean;
}

export interface PullResult {
  pulled: { role: ModelRole; id: string; dir: string; files: string[] }[];
  skipped: { role: ModelRole; id: string; dir: string }[];
}


function limiter(concurrency: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/**
 * Files already in the model folder that match what the manifest asks for (and need no
 * download). A file with a recorded sha256 that changed since it was last hashed (or was put
 * there by hand, e.g. by the export recipe) is hashed now; the marker gains what was learned.
 */
async function reusableFiles(model: ResolvedModel, wanted: readonly ResolvedFile[], marker: VerificationMarker | undefined): Promise<{ reusable: Set<string>; marker: VerificationMarker | undefined }> {
  const reusable = new Set<string>();
  if (marker && marker.revision !== model.revision) return { reusable, marker };
  let next = marker;
  for (const f of wanted) {
    let state = await fileState(f, next);
    if (state.kind === 'missing') continue;
    if (f.size !== undefined && state.size !== f.size) continue;
    if (f.sha256 !== undefined && state.kind === 'unchecked') {
      const sha256 = await sha256OfFile(f.absolutePath);
      next = { id: model.id, revision: model.revision, files: { ...next?.files, [f.path]: { sha256, size: state.size, mtimeMs: state.mtimeMs } } };
      state = { ...state, kind: 'hashed', sha256 };
    }
    if (f.sha256 !== undefined && !(state.kind === 'hashed' && state.sha256 === f.sha256)) continue;
    reusable.add(f.path);
  }
  return { reusable, marker: next };
}

interface PartialMeta {
  validator?: string;
  totalSize?: number;
}

async function readPartialMeta(path: string): Promise<PartialMeta | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as PartialMeta;
  } catch {
    return undefined;
  }
}

async function hashPrefix(path: string, length: number, hash: ReturnType<typeof createHash>): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
}

interface DownloadContext {
  source: ModelFileSource;
  model: ResolvedModel;
  file: ResolvedFile;
  stagingModelDir: string;
  retries: number;
  retryDelayMs: number;
  emit: (event: PullEvent) => void;
  signal?: AbortSignal;
}

/**
 * Downloads one file into `<staging>/<path>.partial`, resuming what an earlier attempt (or an
 * earlier run) left there, and renames it to `<staging>/<path>` once whole and checked.
 */
async function downloadFile(ctx: DownloadContext): Promise<{ sha256: string; size: number }> {
  const { model, file, emit } = ctx;
  const target = join(ctx.stagingModelDir, ...file.path.split('/'));
  const partial = `${target}.partial`;
  const metaPath = `${partial}.json`;
  await mkdir(dirname(target), { recursive: true });
  const base = { role: model.role, id: model.id, path: file.path };
  const donePath = `${target}.done.json`;

  // Finished by an earlier run that failed on another file.
  const done = await readFile(donePath, 'utf8').then((text) => JSON.parse(text) as { sha256: string; size: number }, () => undefined);
  if (done && (await sizeOf(target)) === done.size && (file.sha256 === undefined || file.sha256 === done.sha256) && (file.size === undefined || file.size === done.size)) {
    emit({ ...base, type: 'file-done', size: done.size, sha256: done.sha256, checked: file.sha256 !== undefined });
    return done;
  }

  for (let attempt = 0; ; attempt++) {
    const meta = await readPartialMeta(metaPath);
    const have = meta?.validator ? ((await sizeOf(partial)) ?? 0) : 0;
    try {
      const opened = await ctx.source.open({ model, file, start: have, ...(meta?.validator ? { validator: meta.validator } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) });
      // The connection may drop before the pipeline below is attached; the pipeline still sees the error.
      opened.body.on('error', () => {});
      if (have > 0 && opened.offset === 0) emit({ ...base, type: 'file-restart', reason: 'the remote file changed or the source cannot resume; starting over' });
      const size = opened.totalSize ?? file.size;
      const nextMeta: PartialMeta = {};
      if (opened.validator) nextMeta.validator = opened.validator;
      if (opened.totalSize !== undefined) nextMeta.totalSize = opened.totalSize;
      await writeFile(metaPath, JSON.stringify(nextMeta));
      emit({ ...base, type: 'file-start', resumeFrom: opened.offset, ...(size !== undefined ? { size } : {}) });

      const hash = createHash('sha256');
      await hashPrefix(partial, opened.offset, hash);
      let received = opened.offset;
      const tap = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          received += chunk.length;
          emit({ ...base, type: 'file-progress', received, ...(size !== undefined ? { size } : {}) });
          callback(null, chunk);
        },
      });
      if (opened.offset === 0) await writeFile(partial, '');
      await pipeline(opened.body, tap, createWriteStream(partial, { flags: 'r+', start: opened.offset }), ctx.signal ? { signal: ctx.signal } : {});

      if (size !== undefined && received !== size) {
        if (received > size) {
          // More bytes than the file has: the partial is not a prefix of it, so start over.
          await rm(partial, { force: true });
          await rm(metaPath, { force: true });
        }
        throw new CuratorError('download_failed', `${model.id}/${file.path}: got ${received} of ${size} bytes`, { retryable: true });
      }
      const sha256 = hash.digest('hex');
      const expected = file.sha256 ?? opened.sha256;
      if (expected !== undefined && sha256 !== expected) {
        await rm(partial, { force: true });
        await rm(metaPath, { force: true });
        throw new CuratorError('checksum_mismatch', `${model.id}/${file.path} from ${opened.location}: sha256 ${sha256}, expected ${expected}; the file was removed`);
      }
      await rename(partial, target);
      await rm(metaPath, { force: true });
      await writeFile(donePath, JSON.stringify({ sha256, size: received }));
      emit({ ...base, type: 'file-done', size: received, sha256, checked: expected !== undefined });
      return { sha256, size: received };
    } catch (error) {
      const failure = isCuratorError(error) ? error : new CuratorError('download_failed', `${model.id}/${file.path}: ${describeError(error)}`, { cause: error, retryable: true });
      if (!failure.retryable || attempt >= ctx.retries || ctx.signal?.aborted) throw failure;
      emit({ ...base, type: 'file-retry', attempt: attempt + 1, message: failure.message });
      await delay(ctx.retryDelayMs * (attempt + 1), undefined, ctx.signal ? { signal: ctx.signal } : {});
    }
  }
}

const bookkeeping = /\.(partial|partial\.json|done\.json)$/;

/** Download bookkeeping (partials of other precisions included) must not move into the model folder. */
async function sweepBookkeeping(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && bookkeeping.test(entry.name)) await rm(join(entry.parentPath, entry.name), { force: true });
  }
}

/**
 * Fetches the models of `roles` (default: all) into MODELS_DIR/<id>/. Files land in
 * MODELS_DIR/.staging first and the model folder is swapped in by rename only once every file
 * is whole and matches its sha256, so MODELS_DIR/<id> never holds a partial model.
 */
export async function pullModels(options: PullOptions): Promise<PullResult> {
  if (options.set === 'test') {
    throw new CuratorError('validation_failed', 'The test models are generated, not pulled: run `npm run curator -- models prepare` with CURATOR_MODELS=test');
  }
  const emit = options.onProgress ?? (() => {});
  const sourceOptions = {
    hub: { endpoint: options.hfEndpoint ?? 'https://huggingface.co', ...(options.hfToken ? { token: options.hfToken } : {}) },
    ...(options.s3 ? { s3: options.s3 } : {}),
  };
  const from = options.from ?? 'hub';
  const mainSource = options.source ?? sourceFor(from, sourceOptions);
  const fromHub = from === 'hub' || /^https?:/.test(from);
  const exportsSource = options.exportsFrom && !options.source && fromHub ? sourceFor(options.exportsFrom, sourceOptions) : undefined;
  // A Hub holds checkpoints; an S3 bucket or a folder mirrors MODELS_DIR, converted files included.
  const convertedFromMain = options.converted ?? !fromHub;
  const sourceOf = (model: ResolvedModel) => (exportsSource && model.conversion ? exportsSource : mainSource);
  const filesOf = (model: ResolvedModel) => (model.conversion && !exportsSource && !convertedFromMain ? model.checkpointFiles : model.files);
  const limit = limiter(Math.max(1, options.concurrency ?? 4));
  const stagingRoot = join(options.modelsDir, stagingDirName);
  const result: PullResult = { pulled: [], skipped: [] };
  const failures: { model: ResolvedModel; error: CuratorError }[] = [];

  await Promise.all(
    resolveModels(options).map(async (model) => {
      const wanted = filesOf(model);
      const found = await reusableFiles(model, wanted, await readMarker(model.dir));
      const { reusable, marker } = found;
      const needed = wanted.filter((f) => !reusable.has(f.path));
      if (needed.length === 0) {
        if (marker) await writeMarker(model.dir, marker);
        result.skipped.push({ role: model.role, id: model.id, dir: model.dir });
        emit({ type: 'model-skip', role: model.role, id: model.id, dir: model.dir, reason: 'present' });
        return;
      }
      let unlock: (() => Promise<void>) | undefined;
      try {
        await mkdir(stagingRoot, { recursive: true });
        unlock = await lockModel(join(stagingRoot, `${safeName(model.id)}.lock`), model.id);
        const source = sourceOf(model);
        emit({ type: 'model-start', role: model.role, id: model.id, source: source.describe(model), files: needed.map((f) => f.path) });
        const stagingModelDir = join(stagingRoot, safeName(model.id));
        await mkdir(stagingModelDir, { recursive: true });
        const downloaded = await Promise.all(
          needed.map((file) =>
            limit(() =>
              downloadFile({ source, model, file, stagingModelDir, retries: options.retries ?? 3, retryDelayMs: options.retryDelayMs ?? 500, emit, ...(options.signal ? { signal: options.signal } : {}) }).then((sum) => ({ file, sum })),
            ),
          ),
        );
        const replaced = new Set(needed.map((f) => f.path));
        await sweepBookkeeping(stagingModelDir);
        // Files of another revision must not survive into this one.
        if (!marker || marker.revision === model.revision) await carryOver(model.dir, stagingModelDir, (path) => replaced.has(path) || bookkeeping.test(path));

        const files: VerificationMarker['files'] = {};
        const keep = marker && marker.revision === model.revision ? marker.files : {};
        for (const [path, entry] of Object.entries(keep)) {
          if (replaced.has(path)) continue;
          const info = await stat(join(stagingModelDir, ...path.split('/'))).catch(() => undefined);
          // Hard links share the inode, so size and mtime are unchanged; a copy is re-hashed later.
          if (info && info.size === entry.size && info.mtimeMs === entry.mtimeMs) files[path] = entry;
        }
        for (const { file, sum } of downloaded) {
          const info = await stat(join(stagingModelDir, ...file.path.split('/')));
          files[file.path] = { sha256: sum.sha256, size: sum.size, mtimeMs: info.mtimeMs };
        }
        await writeMarker(stagingModelDir, { id: model.id, revision: model.revision, files });

        await swapIn(stagingModelDir, model.dir, stagingRoot, model.id);
        result.pulled.push({ role: model.role, id: model.id, dir: model.dir, files: needed.map((f) => f.path) });
        emit({ type: 'model-done', role: model.role, id: model.id, dir: model.dir });
      } catch (error) {
        failures.push({ model, error: isCuratorError(error) ? error : new CuratorError('download_failed', (error as Error).message, { cause: error, retryable: true }) });
      } finally {
        await unlock?.();
      }
    }),
  );

  const [first] = failures;
  if (first) {
    const message = failures.map(({ model, error }) => `${model.role} (${model.id}): ${error.message}`).join('\n');
    throw new CuratorError(first.error.code, failures.length === 1 ? message : `${failures.length} models failed:\n${message}`, {
      details: failures.map(({ model, error }) => ({ path: model.role, message: error.message })),
      retryable: failures.every(({ error }) => error.retryable),
      cause: first.error,
    });
  }
  return result;
}
