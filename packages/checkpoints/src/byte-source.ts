import { open, type FileHandle } from 'node:fs/promises';
import { invalid } from './errors.ts';

/**
 * Random access to a checkpoint's bytes. Readers take only what they ask for, so a tensor's bytes
 * are read when that tensor is wanted and never the whole file. Tests wrap it to count bytes.
 */
export interface ByteSource {
  readonly path: string;
  readonly size: number;
  /** Exactly `length` bytes from `offset`; a range past the end is refused as a truncated file. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** A stretch of a source (a zip record, a legacy storage): its bytes, read by range. */
export interface RecordBytes {
  readonly name: string;
  readonly byteLength: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

// One read() call moves at most 2 GiB (a libuv limit); larger ranges are read in pieces.
const maxChunk = 1 << 30;

export async function openFileSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return new FileSource(path, handle, size);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

class FileSource implements ByteSource {
  readonly path: string;
  readonly size: number;
  readonly #handle: FileHandle;

  constructor(path: string, handle: FileHandle, size: number) {
    this.path = path;
    this.#handle = handle;
    this.size = size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#handle.read(bytes, done, Math.min(maxChunk, length - done), offset + done);
      if (bytesRead === 0) throw invalid(this.path, `file ended at byte ${offset + done}; ${length - done} more bytes were expected (truncated?)`);
      done += bytesRead;
    }
    return bytes;
  }

  #closed: Promise<void> | undefined;

  /** Closing twice is harmless: a reader's close and an error path may both close. */
  close(): Promise<void> {
    this.#closed ??= this.#handle.close();
    return this.#closed;
  }
}

/** Refuses a range outside the source before any allocation is sized from it. */
export function checkRange(source: Pick<ByteSource, 'path' | 'size'>, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw invalid(source.path, `bad byte range ${offset}+${length}`);
  }
  if (offset + length > source.size) {
    throw invalid(source.path, `needs bytes ${offset}..${offset + length} but the file has only ${source.size} (truncated?)`);
  }
}
