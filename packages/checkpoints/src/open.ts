import { openFileSource, type ByteSource } from './byte-source.ts';
import type { EntryReader } from './entries.ts';
import { invalid } from './errors.ts';
import { looksLikeLegacyTorch, openTorchLegacy } from './pytorch-legacy.ts';
import { openTorchZip } from './pytorch-zip.ts';
import { looksLikeSafetensors, openSafetensors } from './safetensors.ts';
import { looksLikeZip } from './zip.ts';
import type { CheckpointReader } from './types.ts';

/**
 * Opens a checkpoint file by what its bytes are, not by its name: safetensors, a PyTorch zip
 * (torch >= 1.6) or a legacy PyTorch pickle file. Only headers/pickles are read here; tensor bytes
 * are read when asked for. A `ByteSource` may be given instead of a path (tests count bytes).
 */
export async function openCheckpoint(path: string | ByteSource): Promise<CheckpointReader> {
  const source = typeof path === 'string' ? await openFileSource(path) : path;
  try {
    return await openSource(source);
  } catch (error) {
    await source.close();
    throw error;
  }
}

async function openSource(source: ByteSource): Promise<EntryReader> {
  const head = await source.read(0, Math.min(source.size, 16));
  if (looksLikeSafetensors(head)) return openSafetensors(source);
  if (looksLikeZip(head)) return openTorchZip(source);
  if (looksLikeLegacyTorch(head)) return openTorchLegacy(source);
  throw invalid(source.path, 'not a checkpoint Curator reads (neither safetensors nor a PyTorch zip or pickle file)');
}
