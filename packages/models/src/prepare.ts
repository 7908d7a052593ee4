// Everything `npm start` needs before it can serve: each role's model on disk in MODELS_DIR,
// ready to load. Real models: the pinned checkpoint files pulled (resumable, verified), then
// converted once by Curator's builders; or, with CURATOR_MODELS_EXPORTS, converted files pulled
// from there. The test set: generated and converted by the same code.
import { CuratorError } from '@curator/contracts';
import type { ModelEntry, ModelRole, ModelSet, Precision } from './manifest.ts';
import { modelEntry, resolveAvailableModel, type ModelsOptions } from './resolve.ts';
import { pullModels, type PullEvent, type PullOptions } from './pull.ts';
import { conversionState, convertModel, type ConvertEvent } from './convert.ts';
import { convertiblePrecisions, type ConvertiblePrecision } from './recipes.ts';
import { ensureTestModels, type TestModelEvent } from './test-set/ensure.ts';

export type PrepareEvent =
  | PullEvent
  | ConvertEvent
  | TestModelEvent
  | { type: 'model-ready'; role: ModelRole; id: string; dir: string; precision: Precision };

export interface PrepareOptions extends Pick<ModelsOptions, 'overrides' | 'manifest'>, Pick<PullOptions, 'hfEndpoint' | 'hfToken' | 'exportsFrom' | 's3' | 'concurrency' | 'retries' | 'retryDelayMs' | 'signal'> {
  modelsDir: string;
  set: ModelSet;
  roles: readonly ModelRole[];
  /**
   * The precision to have ready (the device's preferred one, or CURATOR_PRECISION). Roles Curator
   * converts get it converted (int8 is not converted: they get their default precision).
   */
  precision?: Precision;
  /** Test set only: more precisions to convert besides `precision`. */
  testPrecisions?: readonly ConvertiblePrecision[];
  /** Where files come from: `hub` (default), an http(s) Hub mirror, s3://bucket/prefix or a folder mirroring MODELS_DIR. */
  from?: string;
  onProgress?: (event: PrepareEvent) => void;
}

export interface PreparedModel {
  role: ModelRole;
  id: string;
  dir: string;
  precision: Precision;
}

function conversionPrecision(entry: ModelEntry, wanted: Precision | undefined): ConvertiblePrecision {
  const precision = wanted !== undefined && entry.precisions[wanted] && (convertiblePrecisions as readonly string[]).includes(wanted) ? wanted : entry.defaultPrecision;
  return precision as ConvertiblePrecision;
}

/**
 * Makes the models of `roles` ready to load in MODELS_DIR and says which precision each has.
 * Nothing is fetched or converted twice: pulls skip verified files, conversions skip when their
 * record (curator-conversion.json) still matches the sources and the builder code.
 */
export async function prepareModels(options: PrepareOptions): Promise<PreparedModel[]> {
  const emit = options.onProgress ?? (() => {});
  if (options.set === 'test') {
    const wanted = [...new Set([...(options.testPrecisions ?? []), ...(options.precision === 'fp16' ? (['fp16'] as const) : (['fp32'] as const))])];
    await ensureTestModels(options.modelsDir, options.roles, { precisions: wanted, onProgress: emit });
    return ready(options);
  }

  const from = options.from ?? 'hub';
  const fromHub = from === 'hub' || /^https?:\/\//.test(from);
  const pullSettings: PullOptions = {
    modelsDir: options.modelsDir,
    set: 'real',
    from,
    onProgress: emit,
    ...(options.overrides ? { overrides: options.overrides } : {}),
    ...(options.manifest ? { manifest: options.manifest } : {}),
    ...(options.hfEndpoint ? { hfEndpoint: options.hfEndpoint } : {}),
    ...(options.hfToken ? { hfToken: options.hfToken } : {}),
    ...(options.s3 ? { s3: options.s3 } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };

  // Which roles need what: converted files pulled as they are, checkpoints pulled, conversions.
  const pullConverted = new Map<Precision, ModelRole[]>();
  const pullCheckpoint: ModelRole[] = [];
  const convert = new Map<ModelRole, { entry: ModelEntry; precision: ConvertiblePrecision }>();
  for (const role of options.roles) {
    const entry = modelEntry(role, { set: 'real', ...(options.overrides ? { overrides: options.overrides } : {}), ...(options.manifest ? { manifest: options.manifest } : {}) });
    if (!entry.conversion) {
      const precision = options.precision !== undefined && entry.precisions[options.precision] ? options.precision : entry.defaultPrecision;
      pullConverted.set(precision, [...(pullConverted.get(precision) ?? []), role]);
      continue;
    }
    const precision = conversionPrecision(entry, options.precision);
    const state = await conversionState(entry, options.modelsDir, precision);
    if (state === 'ready') continue;
    if (state === 'pull' && (options.exportsFrom || !fromHub)) {
      pullConverted.set(precision, [...(pullConverted.get(precision) ?? []), role]);
      continue;
    }
    if (state === 'pull') pullCheckpoint.push(role);
    convert.set(role, { entry, precision });
  }

  for (const [precision, roles] of pullConverted) await pullModels({ ...pullSettings, roles, precision, ...(options.exportsFrom ? { exportsFrom: options.exportsFrom } : {}) });
  if (pullCheckpoint.length > 0) await pullModels({ ...pullSettings, roles: pullCheckpoint, converted: false });
  for (const { entry, precision } of convert.values()) {
    await convertModel(entry, options.modelsDir, { precisions: [precision], onProgress: emit, ...(options.signal ? { signal: options.signal } : {}) });
  }
  return ready(options);
}

/** The precision each role now has on disk (the wanted one where converted or pulled). */
async function ready(options: PrepareOptions): Promise<PreparedModel[]> {
  const prepared: PreparedModel[] = [];
  for (const role of options.roles) {
    const model = await resolveAvailableModel(role, {
      modelsDir: options.modelsDir,
      set: options.set,
      ...(options.precision ? { precision: options.precision } : {}),
      ...(options.overrides ? { overrides: options.overrides } : {}),
      ...(options.manifest ? { manifest: options.manifest } : {}),
    });
    if (!model) throw new CuratorError('model_missing', `The ${role} model is still incomplete in ${options.modelsDir} after preparing it`);
    options.onProgress?.({ type: 'model-ready', role, id: model.id, dir: model.dir, precision: model.precision });
    prepared.push({ role, id: model.id, dir: model.dir, precision: model.precision });
  }
  return prepared;
}
