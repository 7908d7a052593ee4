// The bridge between a published checkpoint (@curator/checkpoints' reader) and a graph builder
// (@curator/graphs' WeightSource): builders ask for tensors by their state-dict names, and a
// checkpoint may store some of them under another name. @curator/graphs does not depend on
// @curator/checkpoints; this adapter is where the two meet.
import type { CheckpointReader, TensorInfo } from '@curator/checkpoints';
import type { WeightSource } from '@curator/graphs';
import { CuratorError } from '@curator/contracts';

export interface CheckpointWeightsOptions {
  /**
   * Other names a requested tensor may be stored under, tried in order when the name itself is
   * absent. transformers' safetensors keep one copy of tied weights: T5's `lm_head.weight` and
   * `*.embed_tokens.weight` live as `shared.weight`.
   */
  aliases?: Readonly<Record<string, readonly string[]>>;
  /**
   * A prefix the builder's names carry that a checkpoint may lack: transformers 5.x saves
   * CLIPTextModel without `text_model.`, published checkpoints (and 4.x) have it.
   */
  optionalPrefix?: string;
  /** Called the first time each checkpoint tensor is read, with its float32 byte length. */
  onFirstRead?: (name: string, bytes: number) => void;
}

export interface CheckpointWeights extends WeightSource {
  /** Checkpoint tensor names read so far. */
  readonly used: ReadonlySet<string>;
  /** Where a requested name was found in the checkpoint (undefined when it is not there). */
  locate(name: string): TensorInfo | undefined;
}

/** A WeightSource over a checkpoint reader; shapes are checked against what the builder asks. */
export function checkpointWeights(reader: CheckpointReader, options: CheckpointWeightsOptions = {}): CheckpointWeights {
  const used = new Set<string>();
  const locate = (name: string): TensorInfo | undefined => {
    const candidates = [name, ...(options.aliases?.[name] ?? [])];
    if (options.optionalPrefix && name.startsWith(options.optionalPrefix)) candidates.push(name.slice(options.optionalPrefix.length));
    for (const candidate of candidates) {
      const info = reader.info(candidate);
      if (info) return info;
    }
    return undefined;
  };
  return {
    used,
    locate,
    async get(name, shape) {
      const info = locate(name);
      if (!info) throw new CuratorError('checkpoint_invalid', `${reader.path}: no tensor ${name}${options.aliases?.[name] ? ` (nor ${options.aliases[name]!.join(', ')})` : ''}, which the model's config.json needs`);
      if (info.shape.join() !== shape.join()) {
        throw new CuratorError('checkpoint_invalid', `${reader.path}: ${info.name} is [${info.shape.join(', ')}], the model's config.json gives [${shape.join(', ')}]`);
      }
      if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) throw new CuratorError('checkpoint_invalid', `${reader.path}: ${info.name} is ${info.dtype}, a weight must be a float tensor`);
      const data = await reader.readFloat32(info.name);
      if (!used.has(info.name)) {
        used.add(info.name);
        options.onFirstRead?.(info.name, data.byteLength);
      }
      return data;
    },
  };
}

/**
 * Tensors of the checkpoint that no graph used and that are not known to be safe to leave out. A
 * tensor the builder does not know means the checkpoint holds a part Curator does not build (a
 * different architecture than config.json suggests): the conversion refuses rather than produce a
 * model that silently differs.
 */
export function unusedTensors(reader: CheckpointReader, used: ReadonlySet<string>, ignore: readonly RegExp[]): string[] {
  return reader
    .tensors()
    .map((t) => t.name)
    .filter((name) => !used.has(name) && !ignore.some((pattern) => pattern.test(name)));
}
