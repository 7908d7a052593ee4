import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CuratorError, parseOrThrow } from '@curator/contracts';
import { modelEntrySchema, modelIdSchema, roles, type ModelEntry, type ModelEntryInput, type ModelFile, type ModelRole, precisions } from './manifest.ts';

/**
 * Points a role at another model without code changes: either `org/name@revision` (a Hub repo
 * with the same file layout as the role's default) or a whole manifest entry.
 */
export type ModelOverride = string | ModelEntryInput;
export type ModelOverrides = Partial<Record<ModelRole, ModelOverride>>;

const overrideFileSchema = z.object({ models: z.array(modelEntrySchema) }).strict();

/** The override settings as parsed by @curator/config (its `Env` fits this type). */
export type ModelOverrideSettings = { CURATOR_MODELS_MANIFEST?: string | undefined } & {
  [R in ModelRole as `CURATOR_MODEL_${Uppercase<R>}`]?: string | undefined;
};

/**
 * The one place that interprets the override settings:
 * `CURATOR_MODEL_<ROLE>=org/name@revision` and `CURATOR_MODELS_MANIFEST=<file.json>` holding
 * `{ "models": [<manifest entry>, ...] }`. A per-role variable wins over the file.
 */
export function modelOverridesFromEnv(env: ModelOverrideSettings): ModelOverrides {
  const overrides: ModelOverrides = {};
  const file = env['CURATOR_MODELS_MANIFEST'];
  if (file) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new CuratorError('validation_failed', `CURATOR_MODELS_MANIFEST=${file} could not be read as JSON: ${(error as Error).message}`, { cause: error });
    }
    for (const entry of parseOrThrow(overrideFileSchema, raw).models) overrides[entry.role] = entry;
  }
  for (const role of roles) {
    const name = `CURATOR_MODEL_${role.toUpperCase()}` as const;
    const value = env[name as keyof ModelOverrideSettings];
    if (!value) continue;
    try {
      parseModelReference(value);
    } catch (error) {
      throw new CuratorError('validation_failed', `${name}=${JSON.stringify(value)}: must look like org/name@revision`, { cause: error });
    }
    overrides[role] = value;
  }
  return overrides;
}

/** `org/name@revision` (revision defaults to `main`). */
export function parseModelReference(reference: string): { id: string; revision: string } {
  const at = reference.lastIndexOf('@');
  const id = at === -1 ? reference : reference.slice(0, at);
  const revision = at === -1 ? 'main' : reference.slice(at + 1);
  if (!modelIdSchema.safeParse(id).success || revision === '') {
    throw new CuratorError('validation_failed', `Model reference ${JSON.stringify(reference)} must look like org/name@revision`);
  }
  return { id, revision };
}

const withoutChecksum = ({ path, key }: ModelFile): ModelFile => (key === undefined ? { path } : { path, key });

export function applyOverride(base: ModelEntry, override: ModelOverride): ModelEntry {
  if (typeof override !== 'string') return parseOrThrow(modelEntrySchema, { ...override, role: base.role });
  const { id, revision } = parseModelReference(override);
  const filesOf: ModelEntry['precisions'] = {};
  for (const p of precisions) {
    const list = base.precisions[p];
    if (list) filesOf[p] = list.map(withoutChecksum);
  }
  // Another repo's bytes: the default's checksums (and its note) do not apply to it.
  const { note: _note, ...rest } = base;
  return { ...rest, id, revision, source: { kind: 'hub', repo: id }, shared: base.shared.map(withoutChecksum), weights: base.weights.map(withoutChecksum), precisions: filesOf };
}
