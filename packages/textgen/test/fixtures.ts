// The tiny T5 every textgen test runs on, written once per test file into a temporary folder.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The T5 writer is not (yet) among @curator/testmodels' exports, hence the relative path.
import { writeTestT5, tinyT5Config } from '@curator/testmodels/t5';

export { tinyT5Config };

export async function tinyT5(options: Parameters<typeof writeTestT5>[2] = {}): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'textgen-'));
  await writeTestT5(dir, tinyT5Config, { layouts: ['merged', 'split'], precisions: ['fp32', 'fp16'], ...options });
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Encoder inputs of assorted lengths, each ending with </s> (id 1). */
export const sampleInputs: number[][] = Array.from({ length: 8 }, (_, i) => Array.from({ length: 5 + i }, (_, j) => 3 + ((i * 37 + j * 11) % 290)).concat([1]));
