import { mkdir, rename, rm, readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { writeTestSentimentModel, writeTestGenreModel } from './classifier.ts';
import { writeTestT5, tinyT5Config } from './t5.ts';
import { writeTestStableDiffusion } from './stable-diffusion.ts';

export const testModelRoles = ['sentiment', 'genre', 'summarizer', 'headline', 'image'] as const;
export type TestModelRole = (typeof testModelRoles)[number];

/** Bumped whenever a generator's output changes, so stale folders are regenerated. */
export const testModelsVersion = '7';
const versionFile = '.testmodels-version';

const writers: Record<TestModelRole, (dir: string) => Promise<unknown>> = {
  sentiment: (dir) => writeTestSentimentModel(dir),
  genre: (dir) => writeTestGenreModel(dir),
  summarizer: (dir) => writeTestT5(dir, tinyT5Config, { seed: 5 }),
  headline: (dir) => writeTestT5(dir, tinyT5Config, { seed: 9, generationConfig: { no_repeat_ngram_size: 2 } }),
  image: (dir) => writeTestStableDiffusion(dir, { externalData: true }),
};

/** Where the test model of a role lives: `MODELS_DIR/curator-test/<role>`, the id in the test manifest. */
export function testModelDir(modelsDir: string, role: TestModelRole): string {
  return join(modelsDir, 'curator-test', role);
}

/**
 * Writes the small generated models for `roles` into `modelsDir` unless they are there already.
 * Each model is written to a temporary folder and renamed into place whole, so concurrent test
 * processes and an interrupted run never leave a partial model where the loader looks.
 */
export async function ensureTestModels(modelsDir: string, roles: readonly TestModelRole[] = testModelRoles, onWrite?: (role: TestModelRole) => void): Promise<Record<TestModelRole, string>> {
  const out = {} as Record<TestModelRole, string>;
  for (const role of roles) {
    const dir = testModelDir(modelsDir, role);
    out[role] = dir;
    const current = await readFile(join(dir, versionFile), 'utf8').catch(() => null);
    if (current?.trim() === testModelsVersion) continue;
    onWrite?.(role);
    await mkdir(dirname(dir), { recursive: true });
    const staging = await mkdtemp(join(dirname(dir), `.${role}-`));
    try {
      await writers[role](staging);
      await writeFile(join(staging, versionFile), `${testModelsVersion}\n`);
      const old = `${dir}.old-${process.pid}-${Date.now()}`;
      await rename(dir, old).catch(() => undefined);
      try {
        await rename(staging, dir);
      } catch (error) {
        // Another process won the race with the same content: keep theirs.
        if ((await readFile(join(dir, versionFile), 'utf8').catch(() => null))?.trim() !== testModelsVersion) throw error;
      }
      await rm(old, { recursive: true, force: true });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return out;
}
