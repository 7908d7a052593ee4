// safetensors as the safetensors library writes it: u64 header length, a JSON header padded with
// spaces so the data starts 8-byte aligned, then each tensor's bytes in header order.
import { writeAtomically } from './file-sink.ts';
import { byteLengthOf, checkTensorInfo, tensorBytes } from './tensor-data.ts';
import type { NamedTensor, TensorSource, WriteOptions } from './types.ts';

/**
 * Writes a safetensors file, header first, then one tensor's bytes at a time. Give `data` as a
 * function to stream: every tensor's name and shape is needed before the first byte of data.
 */
export async function writeSafetensors(path: string, tensors: TensorSource, metadata?: Record<string, string>, options: WriteOptions = {}): Promise<void> {
  const list = await collect(tensors);
  const header = encodeHeader(list, metadata);
  await writeAtomically(path, async (sink) => {
    await sink.write(header);
    let written = 0;
    for (const [index, tensor] of list.entries()) {
      const bytes = await tensorBytes(tensor);
      await sink.write(bytes);
      written += bytes.byteLength;
      options.onProgress?.({ name: tensor.name, tensors: index + 1, bytes: written });
    }
  });
}

async function collect(tensors: TensorSource): Promise<NamedTensor[]> {
  const list: NamedTensor[] = [];
  const seen = new Set<string>();
  for await (const tensor of tensors) {
    checkTensorInfo(tensor, seen);
    if (tensor.name === '__metadata__') throw new TypeError('a tensor cannot be named __metadata__ in safetensors');
    list.push(tensor);
  }
  return list;
}

function encodeHeader(list: NamedTensor[], metadata: Record<string, string> | undefined): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [key, value] of Object.entries(metadata)) if (typeof value !== 'string') throw new TypeError(`safetensors metadata ${key} must be a string`);
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const tensor of list) {
    const end = offset + byteLengthOf(tensor);
    header[tensor.name] = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const bytes = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
  bytes.set(json, 8);
  return bytes;
}
