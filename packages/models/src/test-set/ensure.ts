// The test set in MODELS_DIR/curator-test/<role>: each role's fake checkpoint repo, converted by
// the same code as the real checkpoints. Written in a private folder and renamed into place whole,
// so concurrent test processes and an interrupted run never leave a partial model where the
// loaders look; kept while the generator and the conversion code are unchanged.
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { testManifest, type ModelEntry, type ModelRole } from '../manifest.ts';
import { convertFolder, readConversionRecord, builderVersion, type ConvertEvent } from '../convert.ts';
import { convertiblePrecisions, type ConvertiblePrecision } from '../recipes.ts';
import { resolveEntry } from '../resolve.ts';
import { writeTestCheckpoint } from './repos.ts';

/** Bumped whenever the fake repos' content changes (configs, tokenizers, tensors). */
export const testModelsVersion = '8';
const versionFile = '.testmodels-version';

export type TestModelEvent =
  | { type: 'test-model-present'; role: ModelRole; dir: string }
  | { type: 'test-model-write'; role: ModelRole; dir: string; files: string[] }
  | ConvertEvent;

export interface EnsureTestModelsOptions {
  /** Precisions to convert (default fp32 and fp16); precisions already there are kept. */
  precisions?: readonly ConvertiblePrecision[];
  onProgress?: (event: TestModelEvent) => void;
}

function entryOf(role: ModelRole): ModelEntry {
  const entry = testManifest.models.find((m) => m.role === role);
  if (!entry) throw new Error(`The test manifest has no ${role} model`);
  return entry;
}

/** Where the test model of a role lives: MODELS_DIR/curator-test/<role>, its id in the test manifest. */
export function testModelDir(modelsDir: string, role: ModelRole): string {
  return resolveEntry(entryOf(role), modelsDir).dir;
}

/** The precisions whose conversion in `dir` was made by the current code and generator. */
async function currentPrecisions(dir: string): Promise<ConvertiblePrecision[]> {
  const version = await readFile(join(dir, versionFile), 'utf8').catch(() => null);
  if (version?.trim() !== testModelsVersion) return [];
  const record = await readConversionRecord(dir);
  if (!record || record.builderVersion !== (await builderVersion())) return [];
  return convertiblePrecisions.filter((p) => record.conversions[p] !== undefined);
}

/**
 * Writes the test models of `roles` into `modelsDir` unless they are there, made by this code.
 * Returns each role's folder.
 */
export async function ensureTestModels(modelsDir: string, roles: readonly ModelRole[] = testManifest.models.map((m) => m.role), options: EnsureTestModelsOptions = {}): Promise<Record<ModelRole, string>> {
  const wanted = options.precisions ?? convertiblePrecisions;
  const out = {} as Record<ModelRole, string>;
  for (const role of roles) {
    const entry = entryOf(role);
    const dir = testModelDir(modelsDir, role);
    out[role] = dir;
    const have = await currentPrecisions(dir);
    if (wanted.every((p) => have.includes(p))) {
      options.onProgress?.({ type: 'test-model-present', role, dir });
      continue;
    }
    await mkdir(dirname(dir), { recursive: true });
    const staging = await mkdtemp(join(dirname(dir), `.${role}-`));
    try {
      const files = await writeTestCheckpoint(entry, staging);
      options.onProgress?.({ type: 'test-model-write', role, dir, files });
      await convertFolder(entry, staging, { precisions: [...new Set([...have, ...wanted])], ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
      await writeFile(join(staging, versionFile), `${testModelsVersion}\n`);
      const old = `${dir}.old-${process.pid}-${Date.now()}`;
      await rename(dir, old).catch(() => undefined);
      try {
        await rename(staging, dir);
      } catch (error) {
        // Another process won the race with the same content: keep theirs.
        if ((await currentPrecisions(dir)).length === 0) throw error;
      }
      await rm(old, { recursive: true, force: true });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return out;
}

