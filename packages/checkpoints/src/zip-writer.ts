// Writes an uncompressed zip the way PyTorch's writer lays it out: every record STORED, its data
// aligned to 64 bytes by a padding extra field ("FB"), ZIP64 fields where a size or offset needs
// them, and always a ZIP64 end record. CRCs are computed while the data streams through and
// patched into the local header afterwards, so no record is ever held whole.
import { crc32 } from 'node:zlib';
import type { FileSink } from './file-sink.ts';

const alignment = 64;
const max32 = 0xffffffff;
const dosDate = 0x21; // 1980-01-01: the earliest DOS date; records carry no meaningful time

interface WrittenRecord {
  name: Uint8Array;
  size: number;
  crc: number;
  offset: number;
}

export class ZipWriter {
  readonly #sink: FileSink;
  readonly #records: WrittenRecord[] = [];

  constructor(sink: FileSink) {
    this.#sink = sink;
  }

  async addBytes(name: string, bytes: Uint8Array): Promise<void> {
    await this.addRecord(name, bytes.byteLength, async (write) => write(bytes));
  }

  /** A record of exactly `size` bytes, produced by `produce` through `write` in as many pieces as it likes. */
  async addRecord(name: string, size: number, produce: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>): Promise<void> {
    const encodedName = new TextEncoder().encode(name);
    const offset = this.#sink.position;
    await this.#sink.write(localHeader(encodedName, size, offset));
    let crc = 0;
    let written = 0;
    await produce(async (bytes) => {
      crc = crc32(bytes, crc);
      written += bytes.byteLength;
      await this.#sink.write(bytes);
    });
    if (written !== size) throw new Error(`zip record ${name} was announced as ${size} bytes but ${written} were written`);
    await this.#sink.writeAt(offset + 14, u32(crc));
    this.#records.push({ name: encodedName, size, crc, offset });
  }

  async finish(): Promise<void> {
    const directoryOffset = this.#sink.position;
    for (const record of this.#records) await this.#sink.write(centralHeader(record));
    const directorySize = this.#sink.position - directoryOffset;
    const zip64EndOffset = this.#sink.position;
    await this.#sink.write(zip64End(this.#records.length, directorySize, directoryOffset));
    await this.#sink.write(zip64Locator(zip64EndOffset));
    await this.#sink.write(end(this.#records.length, directorySize, directoryOffset));
  }
}

function localHeader(name: Uint8Array, size: number, offset: number): Uint8Array {
  const zip64 = size >= max32;
  const zip64Extra = zip64 ? 20 : 0;
  const unpadded = offset + 30 + name.length + zip64Extra + 4;
  const padding = (alignment - (unpadded % alignment)) % alignment;
  const header = new Uint8Array(30 + name.length + zip64Extra + 4 + padding);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x04034b50, true);
  view.setUint16(4, zip64 ? 45 : 20, true);
  view.setUint16(12, dosDate, true);
  // crc at 14 is patched once the data has streamed through
  view.setUint32(18, zip64 ? max32 : size, true);
  view.setUint32(22, zip64 ? max32 : size, true);
  view.setUint16(26, name.length, true);
  view.setUint16(28, zip64Extra + 4 + padding, true);
  header.set(name, 30);
  let at = 30 + name.length;
  if (zip64) {
    view.setUint16(at, 1, true);
    view.setUint16(at + 2, 16, true);
    view.setBigUint64(at + 4, BigInt(size), true);
    view.setBigUint64(at + 12, BigInt(size), true);
    at += 20;
  }
  view.setUint16(at, 0x4246, true); // "FB": PyTorch's padding field
  view.setUint16(at + 2, padding, true);
  header.fill(0x5a, at + 4); // 'Z', as PyTorch pads
  return header;
}

function centralHeader(record: WrittenRecord): Uint8Array {
  const sizeIn64 = record.size >= max32;
  const offsetIn64 = record.offset >= max32;
  const extraFields = (sizeIn64 ? 2 : 0) + (offsetIn64 ? 1 : 0);
  const extraLength = extraFields > 0 ? 4 + 8 * extraFields : 0;
  const header = new Uint8Array(46 + record.name.length + extraLength);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x02014b50, true);
  view.setUint16(4, 45, true);
  view.setUint16(6, extraFields > 0 ? 45 : 20, true);
  view.setUint16(14, dosDate, true);
  view.setUint32(16, record.crc, true);
  view.setUint32(20, sizeIn64 ? max32 : record.size, true);
  view.setUint32(24, sizeIn64 ? max32 : record.size, true);
  view.setUint16(28, record.name.length, true);
  view.setUint16(30, extraLength, true);
  view.setUint32(42, offsetIn64 ? max32 : record.offset, true);
  header.set(record.name, 46);
  if (extraFields > 0) {
    let at = 46 + record.name.length;
    view.setUint16(at, 1, true);
    view.setUint16(at + 2, 8 * extraFields, true);
    at += 4;
    // ZIP64 extra order: uncompressed size, compressed size, local header offset
    if (sizeIn64) {
      view.setBigUint64(at, BigInt(record.size), true);
      view.setBigUint64(at + 8, BigInt(record.size), true);
      at += 16;
    }
    if (offsetIn64) view.setBigUint64(at, BigInt(record.offset), true);
  }
  return header;
}

function zip64End(count: number, size: number, offset: number): Uint8Array {
  const bytes = new Uint8Array(56);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x06064b50, true);
  view.setBigUint64(4, 44n, true);
  view.setUint16(12, 45, true);
  view.setUint16(14, 45, true);
  view.setBigUint64(24, BigInt(count), true);
  view.setBigUint64(32, BigInt(count), true);
  view.setBigUint64(40, BigInt(size), true);
  view.setBigUint64(48, BigInt(offset), true);
  return bytes;
}

function zip64Locator(zip64EndOffset: number): Uint8Array {
  const bytes = new Uint8Array(20);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x07064b50, true);
  view.setBigUint64(8, BigInt(zip64EndOffset), true);
  view.setUint32(16, 1, true);
  return bytes;
}

function end(count: number, size: number, offset: number): Uint8Array {
  const bytes = new Uint8Array(22);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x06054b50, true);
  view.setUint16(8, Math.min(count, 0xffff), true);
  view.setUint16(10, Math.min(count, 0xffff), true);
  view.setUint32(12, Math.min(size, max32), true);
  view.setUint32(16, Math.min(offset, max32), true);
  return bytes;
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
  return bytes;
}
