import { CuratorError } from '@curator/contracts';
import { isFloatDType, toFloat32 } from './dtype.ts';
import type { CheckpointFormat, CheckpointReader, TensorInfo } from './types.ts';

/** One tensor of an open checkpoint: what it is, and how to fetch its bytes when asked. */
export interface TensorEntry {
  readonly info: TensorInfo;
  /** Raw little-endian bytes in the stored dtype, contiguous row-major. */
  readBytes(): Promise<Uint8Array>;
}

/** A reader over named entries; every format builds its entries and hands them here. */
export class EntryReader implements CheckpointReader {
  readonly format: CheckpointFormat;
  readonly path: string;
  readonly #entries: ReadonlyMap<string, TensorEntry>;
  readonly #close: () => Promise<void>;

  constructor(format: CheckpointFormat, path: string, entries: ReadonlyMap<string, TensorEntry>, close: () => Promise<void>) {
    this.format = format;
    this.path = path;
    this.#entries = entries;
    this.#close = close;
  }

  tensors(): TensorInfo[] {
    return [...this.#entries.values()].map((entry) => copyInfo(entry.info));
  }

  info(name: string): TensorInfo | undefined {
    const entry = this.#entries.get(name);
    return entry && copyInfo(entry.info);
  }

  async readRaw(name: string): Promise<{ info: TensorInfo; bytes: Uint8Array }> {
    const entry = this.#entry(name);
    return { info: copyInfo(entry.info), bytes: await entry.readBytes() };
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const entry = this.#entry(name);
    if (!isFloatDType(entry.info.dtype)) {
      throw new CuratorError('checkpoint_invalid', `${this.path}: tensor ${name} is ${entry.info.dtype}, not a floating-point tensor (read it with readRaw)`);
    }
    return toFloat32(entry.info.dtype, await entry.readBytes());
  }

  close(): Promise<void> {
    return this.#close();
  }

  #entry(name: string): TensorEntry {
    const entry = this.#entries.get(name);
    if (!entry) throw new CuratorError('checkpoint_invalid', `${this.path}: no tensor named ${name}`);
    return entry;
  }
}

function copyInfo(info: TensorInfo): TensorInfo {
  return { name: info.name, dtype: info.dtype, shape: [...info.shape] };
}
