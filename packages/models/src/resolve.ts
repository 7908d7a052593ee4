import { join, resolve as resolvePath } from 'node:path';
import { CuratorError } from '@curator/contracts';
import { manifestFor, precisions, roles, type Conversion, type Manifest, type ModelEntry, type ModelRole, type ModelSet, type ModelFile, type ModelSource, type Precision } from './manifest.ts';
import { applyOverride, type ModelOverrides } from './overrides.ts';
import { fileState, readMarker } from './verify.ts';

export interface ModelsOptions {
  /** Root of the model folders (MODELS_DIR). */
  modelsDir: string;
  set?: ModelSet;
  /** Wanted precision; a role that lacks it gets its default precision. */
  precision?: Precision;
  /** Per-role replacements (see `modelOverridesFromEnv`); ignored for the test set. */
  overrides?: ModelOverrides;
  /** Replaces the built-in manifest of `set` (tests, tools). */
  manifest?: Manifest;
}

export interface ResolvedFile {
  /** Path inside the model folder, `/`-separated. */
  path: string;
  key?: string;
  absolutePath: string;
  sha256?: string;
  size?: number;
}

export interface ResolvedModel {
  role: ModelRole;
  id: string;
  revision: string;
  source: ModelSource;
  /** Absolute model folder, MODELS_DIR/<id>. */
  dir: string;
  precision: Precision;
  /** What the engines need at run time: the repo's shared files and this precision's ONNX files. */
  files: ResolvedFile[];
  /** What the conversion reads: the repo's shared files and its weights (empty without a conversion). */
  checkpointFiles: ResolvedFile[];
  conversion?: Conversion;
  /** Absolute path by file key (`model`, `encoder`, `decoder`, `unet`, `tokenizer`, `weights`, ...). */
  paths: Record<string, string>;
}

export function modelEntry(role: ModelRole, options: Pick<ModelsOptions, 'set' | 'overrides' | 'manifest'>): ModelEntry {
  const set = options.set ?? 'real';
  const manifest = options.manifest ?? manifestFor(set);
  const base = manifest.models.find((m) => m.role === role);
  if (!base) throw new CuratorError('model_missing', `The ${set} model manifest has no ${role} model`);
  const override = set === 'real' ? options.overrides?.[role] : undefined;
  return override === undefined ? base : applyOverride(base, override);
}

export function resolveEntry(entry: ModelEntry, modelsDir: string, wanted?: Precision): ResolvedModel {
  const precision = wanted !== undefined && entry.precisions[wanted] ? wanted : entry.defaultPrecision;
  const dir = resolvePath(modelsDir, ...entry.id.split('/'));
  const resolveFile = (f: ModelFile): ResolvedFile => ({ ...f, absolutePath: join(dir, ...f.path.split('/')) });
  const files = [...entry.shared, ...(entry.precisions[precision] ?? [])].map(resolveFile);
  const checkpointFiles = entry.conversion ? [...entry.shared, ...entry.weights].map(resolveFile) : [];
  const paths: Record<string, string> = {};
  for (const f of [...checkpointFiles, ...files]) if (f.key !== undefined) paths[f.key] = f.absolutePath;
  return { role: entry.role, id: entry.id, revision: entry.revision, source: entry.source, dir, precision, files, checkpointFiles, ...(entry.conversion ? { conversion: entry.conversion } : {}), paths };
}

/** Where a role's model lives and which files it needs; reads nothing from disk. */
export function resolveModel(role: ModelRole, options: ModelsOptions): ResolvedModel {
  return resolveEntry(modelEntry(role, options), options.modelsDir, options.precision);
}

export function resolveModels(options: ModelsOptions & { roles?: readonly ModelRole[] }): ResolvedModel[] {
  return (options.roles ?? roles).map((role) => resolveModel(role, options));
}

export interface MissingModel {
  role: ModelRole;
  id: string;
  dir: string;
  precision: Precision;
  /** Paths (inside the model folder) that are absent. */
  files: string[];
  /** The folder holds another revision than the manifest pins. */
  staleRevision?: string;
}

export interface ModelCheck {
  present: ResolvedModel[];
  missing: MissingModel[];
}

/** Which models are on disk with every file of their precision; cheap (stat only). */
export async function checkModels(options: ModelsOptions & { roles?: readonly ModelRole[] }): Promise<ModelCheck> {
  const result: ModelCheck = { present: [], missing: [] };
  for (const model of resolveModels(options)) {
    const marker = await readMarker(model.dir);
    const absent: string[] = [];
    for (const f of model.files) if ((await fileState(f, marker)).kind === 'missing') absent.push(f.path);
    const stale = marker !== undefined && marker.revision !== model.revision && model.source.kind !== 'generated';
    if (absent.length === 0 && !stale) result.present.push(model);
    else {
      const missing: MissingModel = { role: model.role, id: model.id, dir: model.dir, precision: model.precision, files: absent.length > 0 ? absent : model.files.map((f) => f.path) };
      if (stale) missing.staleRevision = marker.revision;
      result.missing.push(missing);
    }
  }
  return result;
}

/**
 * Like `resolveModel`, but settles on a precision whose files are all on disk: the wanted one,
 * else the role's default, else any other. A GPU worker asks for fp16 and still starts on a
 * machine that only pulled fp32. Undefined when no precision is complete.
 */
export async function resolveAvailableModel(role: ModelRole, options: ModelsOptions): Promise<ResolvedModel | undefined> {
  const entry = modelEntry(role, options);
  const order = [options.precision, entry.defaultPrecision, ...precisions].filter((p, i, all): p is Precision => p !== undefined && entry.precisions[p] !== undefined && all.indexOf(p) === i);
  const marker = await readMarker(resolveEntry(entry, options.modelsDir).dir);
  for (const precision of order) {
    const model = resolveEntry(entry, options.modelsDir, precision);
    let complete = true;
    for (const f of model.files) if ((await fileState(f, marker)).kind === 'missing') complete = false;
    if (complete) return model;
  }
  return undefined;
}
