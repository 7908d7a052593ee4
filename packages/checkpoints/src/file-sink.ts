import { open, rename, rm, type FileHandle } from 'node:fs/promises';

/** Sequential writes with a known position, plus patches at earlier positions (zip headers). */
export class FileSink {
  readonly #handle: FileHandle;
  position = 0;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async write(bytes: Uint8Array): Promise<void> {
    await this.writeAt(this.position, bytes);
    this.position += bytes.byteLength;
  }

  async writeAt(position: number, bytes: Uint8Array): Promise<void> {
    for (let done = 0; done < bytes.byteLength; ) {
      const { bytesWritten } = await this.#handle.write(bytes, done, bytes.byteLength - done, position + done);
      done += bytesWritten;
    }
  }
}

/** Writes `path` through a sibling temporary file renamed into place, so a failed write leaves no half file. */
export async function writeAtomically(path: string, write: (sink: FileSink) => Promise<void>): Promise<void> {
  const partial = `${path}.partial-${process.pid}`;
  const handle = await open(partial, 'w');
  try {
    await write(new FileSink(handle));
    await handle.sync();
    await handle.close();
    await rename(partial, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(partial, { force: true });
    throw error;
  }
}
