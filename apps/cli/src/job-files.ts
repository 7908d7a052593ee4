// --out: the pictures a job made, downloaded from their presigned URLs.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { CuratorError } from '@curator/contracts';
import type { JobType, JobView } from '@curator/client';
import { UsageError } from './output.ts';

/** Job types whose result holds pictures (`--out` makes sense for them only). */
export const typesWithPictures: ReadonlySet<JobType> = new Set(['curate', 'text-to-image']);

interface Picture {
  /** What it is, in the file name when --out is a folder: `card`, `image`, `image-2`. */
  name: string;
  url: string;
  contentType: string;
}

const extensions: Record<string, string> = { 'image/png': '.png', 'image/jpeg': '.jpg', 'image/webp': '.webp' };
const extensionOf = (contentType: string) => extensions[contentType.split(';')[0]!.trim()] ?? '.bin';

/** A curate job's card first (what a file --out gets), then its picture; a text-to-image job's images in order. */
function picturesOf(job: JobView): Picture[] {
  if (!job.result) return [];
  if (job.type === 'curate') {
    const { card, image } = job.result.image;
    return [
      { name: 'card', url: card.url, contentType: card.contentType },
      { name: 'image', url: image.url, contentType: image.contentType },
    ];
  }
  if (job.type === 'text-to-image') {
    const { images } = job.result;
    return images.map((image, i) => ({ name: images.length === 1 ? 'image' : `image-${i + 1}`, url: image.url, contentType: image.contentType }));
  }
  return [];
}

async function isFolder(path: string): Promise<boolean> {
  if (/[/\\]$/.test(path)) return true;
  return stat(path).then((info) => info.isDirectory(), () => false);
}

/**
 * The files to write: into a folder (`<dir>/<job id>-card.png`, `…-image.png`), or to one file
 * (a curate job's card; a text-to-image job's image, numbered `name-2.png`… when it made several).
 */
async function targets(out: string, job: JobView, pictures: Picture[]): Promise<Array<Picture & { path: string }>> {
  const absolute = resolve(out);
  if (await isFolder(out)) return pictures.map((picture) => ({ ...picture, path: join(absolute, `${job.id}-${picture.name}${extensionOf(picture.contentType)}`) }));
  const chosen = job.type === 'curate' ? pictures.slice(0, 1) : pictures;
  if (chosen.length === 1) return [{ ...chosen[0]!, path: absolute }];
  const extension = extname(absolute);
  const stem = extension ? absolute.slice(0, -extension.length) : absolute;
  return chosen.map((picture, i) => ({ ...picture, path: i === 0 ? absolute : `${stem}-${i + 1}${extension || extensionOf(picture.contentType)}` }));
}

/** Downloads the job's pictures to `out`; returns the paths written. */
export async function downloadPictures(job: JobView, out: string, fetchImpl: typeof fetch = fetch): Promise<string[]> {
  const pictures = picturesOf(job);
  if (pictures.length === 0) throw new UsageError(`--out: job ${job.id} (${job.type}, ${job.status}) has no picture to download`);
  const written: string[] = [];
  for (const target of await targets(out, job, pictures)) {
    const what = `the ${target.name} of job ${job.id}`;
    const response = await fetchImpl(target.url).catch((error: unknown) => {
      throw new CuratorError('download_failed', `Downloading ${what} failed: ${(error as Error).message}`, { cause: error });
    });
    if (!response.ok) throw new CuratorError('download_failed', `Downloading ${what} failed: ${response.status} ${response.statusText}`);
    await mkdir(dirname(target.path), { recursive: true });
    await writeFile(target.path, new Uint8Array(await response.arrayBuffer()));
    written.push(target.path);
  }
  return written;
}
