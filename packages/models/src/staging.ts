// MODELS_DIR/.staging: where downloads and conversions are assembled before a model folder is
// swapped in whole by rename, so MODELS_DIR/<id> never holds a partial model. Shared by the
// puller and the converter, which take the same per-model lock.
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { CuratorError } from '@curator/contracts';
import { markerFileName } from './verify.ts';

/** The staging area lives inside MODELS_DIR so the final rename never crosses filesystems. */
export const stagingDirName = '.staging';

export const safeName = (id: string) => id.replaceAll('/', '--');

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

/** Hard links (or copies, across devices) every file of the current folder into staging, so other precisions survive the swap. */
export async function carryOver(from: string, to: string, skip: (path: string) => boolean): Promise<void> {
  let entries;
  try {
    entries = await readdir(from, { recursive: true, withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const absolute = join(entry.parentPath, entry.name);
    const path = relative(from, absolute).split(sep).join('/');
    if (path === markerFileName || skip(path)) continue;
    const target = join(to, ...path.split('/'));
    if (await exists(target)) continue;
    await mkdir(dirname(target), { recursive: true });
    try {
      await link(absolute, target);
    } catch {
      await copyFile(absolute, target);
    }
  }
}

/** Only one pull per model at a time; a lock left by a dead process is taken over. */
export async function lockModel(lockPath: string, id: string): Promise<() => Promise<void>> {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(await readFile(lockPath, 'utf8').catch(() => ''));
      let alive = false;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch {
          alive = false;
        }
      }
      if (alive) throw new CuratorError('conflict', `Another pull or conversion of ${id} is running (lock ${lockPath}, pid ${pid})`);
      await rm(lockPath, { force: true });
    }
  }
  throw new CuratorError('conflict', `Could not lock ${lockPath}`);
}

/** Puts `staged` where `modelDir` is, by rename; the previous folder (if any) is removed after. */
export async function swapIn(staged: string, modelDir: string, stagingRoot: string, id: string): Promise<void> {
  await mkdir(dirname(modelDir), { recursive: true });
  const previous = join(stagingRoot, `${safeName(id)}.old-${process.pid}-${Date.now()}`);
  const hadPrevious = await exists(modelDir);
  if (hadPrevious) await rename(modelDir, previous);
  await rename(staged, modelDir);
  if (hadPrevious) await rm(previous, { recursive: true, force: true });
}
