import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';

/**
 * `.curator-verified.json` in a model folder remembers each file's sha256 with the size and
 * mtime it had when hashed, so `models list` only re-hashes files that changed since.
 */
export const markerFileName = '.curator-verified.json';

const markerSchema = z.object({
  id: z.string(),
  revision: z.string(),
  files: z.record(z.string(), z.object({ sha256: z.string(), size: z.number(), mtimeMs: z.number() })),
});
export type VerificationMarker = z.infer<typeof markerSchema>;

export async function readMarker(dir: string): Promise<VerificationMarker | undefined> {
  try {
    const parsed = markerSchema.safeParse(JSON.parse(await readFile(join(dir, markerFileName), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeMarker(dir: string, marker: VerificationMarker): Promise<void> {
  const target = join(dir, markerFileName);
  await writeFile(`${target}.tmp`, `${JSON.stringify(marker, null, 2)}\n`);
  await rename(`${target}.tmp`, target);
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export interface CheckedFile {
  path: string;
  absolutePath: string;
  sha256?: string;
}

export type FileState =
  | { kind: 'missing' }
  /** On disk, not hashed since it last changed. */
  | { kind: 'unchecked'; size: number; mtimeMs: number }
  | { kind: 'hashed'; size: number; mtimeMs: number; sha256: string };

/** What is known about a file without reading it: its marker entry counts only if size and mtime still match. */
export async function fileState(file: CheckedFile, marker: VerificationMarker | undefined): Promise<FileState> {
  let info;
  try {
    info = await stat(file.absolutePath);
  } catch {
    return { kind: 'missing' };
  }
  if (!info.isFile()) return { kind: 'missing' };
  const recorded = marker?.files[file.path];
  if (recorded && recorded.size === info.size && recorded.mtimeMs === info.mtimeMs) {
    return { kind: 'hashed', size: info.size, mtimeMs: info.mtimeMs, sha256: recorded.sha256 };
  }
  return { kind: 'unchecked', size: info.size, mtimeMs: info.mtimeMs };
}
