// What torch.save(state_dict) writes (PyTorch >= 1.6 zip format): <archive>/data.pkl at pickle
// protocol 2, one <archive>/data/<n> record per tensor, byteorder, version and the format markers.
import { randomInt } from 'node:crypto';
import { basename } from 'node:path';
import { writeAtomically } from './file-sink.ts';
import { pickleStateDict, type PickledTensor } from './pickle-writer.ts';
import { byteLengthOf, checkTensorInfo, tensorBytes } from './tensor-data.ts';
import { dtypeSizes } from './dtype.ts';
import type { TensorSource, WriteOptions } from './types.ts';
import { ZipWriter } from './zip-writer.ts';

/**
 * Writes a PyTorch checkpoint that `torch.load(path, weights_only=True)` reads. Each tensor's bytes
 * are written as it comes from `tensors` (one tensor in memory at a time); data.pkl, which needs
 * every name and shape, is written after them; readers find records through the central directory.
 */
export async function writeTorchCheckpoint(path: string, tensors: TensorSource, options: WriteOptions = {}): Promise<void> {
  const archive = archiveName(path);
  await writeAtomically(path, async (sink) => {
    const zip = new ZipWriter(sink);
    const pickled: PickledTensor[] = [];
    const seen = new Set<string>();
    let bytesWritten = 0;
    for await (const tensor of tensors) {
      checkTensorInfo(tensor, seen);
      const storageKey = String(pickled.length);
      const bytes = await tensorBytes(tensor);
      await zip.addBytes(`${archive}/data/${storageKey}`, bytes);
      pickled.push({ name: tensor.name, dtype: tensor.dtype, shape: [...tensor.shape], storageKey, numel: byteLengthOf(tensor) / dtypeSizes[tensor.dtype] });
      bytesWritten += bytes.byteLength;
      options.onProgress?.({ name: tensor.name, tensors: pickled.length, bytes: bytesWritten });
    }
    await zip.addBytes(`${archive}/data.pkl`, pickleStateDict(pickled));
    await zip.addBytes(`${archive}/.format_version`, ascii('1'));
    await zip.addBytes(`${archive}/.storage_alignment`, ascii('64'));
    await zip.addBytes(`${archive}/byteorder`, ascii('little'));
    await zip.addBytes(`${archive}/version`, ascii('3\n'));
    await zip.addBytes(`${archive}/.data/serialization_id`, ascii(serializationId()));
    await zip.finish();
  });
}

/** PyTorch names the zip's folder after the file, without its last extension. */
function archiveName(path: string): string {
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  return stem.length > 0 && !stem.includes('/') ? stem : 'archive';
}

/** 40 decimal digits, as PyTorch writes to tell saved files apart. */
function serializationId(): string {
  return Array.from({ length: 40 }, () => String(randomInt(10))).join('');
}

function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
