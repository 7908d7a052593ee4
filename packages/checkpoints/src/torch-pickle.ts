// What a PyTorch state-dict pickle may name, and what each allowed name turns into. Nothing here runs
// code from the file: a storage becomes a lazy reference, a tensor a record of (storage, offset,
// shape, stride), an OrderedDict a Map. Every other global is refused by name.
import { invalid } from './errors.ts';
import { isTuple, unpickle, type PickleHooks } from './pickle.ts';
import type { TensorDType } from './types.ts';

/** A storage named by a persistent id; its bytes are read only when a tensor over it is read. */
export interface StorageRef {
  readonly key: string;
  readonly dtype: TensorDType;
  /** Elements of `dtype` the pickle says the storage holds. */
  readonly numel: number;
}

/** A tensor as `_rebuild_tensor_v2` describes it; offsets and strides count elements of `dtype`. */
export interface TensorRecord {
  readonly storage: StorageRef;
  readonly dtype: TensorDType;
  readonly storageOffset: number;
  readonly shape: number[];
  readonly stride: number[];
}

class StorageType {
  readonly dtype: TensorDType;
  constructor(dtype: TensorDType) {
    this.dtype = dtype;
  }
}

class TorchDType {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

class Rebuilder {
  readonly name: string;
  readonly rebuild: (args: readonly unknown[]) => unknown;
  constructor(name: string, rebuild: (args: readonly unknown[]) => unknown) {
    this.name = name;
    this.rebuild = rebuild;
  }
}

const storageDTypes: Record<string, TensorDType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const dtypeNames = ['float32', 'float', 'float16', 'half', 'bfloat16', 'float64', 'double', 'int64', 'long', 'int32', 'int', 'int16', 'short', 'int8', 'uint8', 'bool'];

export type PersistentLoad = (pid: unknown) => StorageRef;

/** Runs a state-dict pickle through the restricted machine and returns its tensors by name. */
export function unpickleStateDict(path: string, bytes: Uint8Array, persistentLoad: PersistentLoad, complete = true): { tensors: Map<string, TensorRecord>; end: number } {
  const { value, end } = unpickle(bytes, { path, hooks: torchHooks(path, persistentLoad), complete });
  return { tensors: stateDictTensors(path, value), end };
}

/** Hooks for pickles that hold no tensors (the legacy format's magic number, version and sys_info). */
export function plainHooks(path: string): PickleHooks {
  return torchHooks(path, () => {
    throw invalid(path, 'pickle refers to a storage where none may be');
  });
}

function torchHooks(path: string, persistentLoad: PersistentLoad): PickleHooks {
  const rebuilders = makeRebuilders(path);
  return {
    global: (module, name) => resolveGlobal(path, rebuilders, module, name),
    call: (callable, args) => {
      if (!(callable instanceof Rebuilder)) throw invalid(path, `pickle calls ${describe(callable)}, which is not callable`);
      return callable.rebuild(args);
    },
    build: (target, state) => buildState(path, target, state),
    persistentLoad,
  };
}

function resolveGlobal(path: string, rebuilders: Map<string, Rebuilder>, module: string, name: string): unknown {
  const qualified = `${module}.${name}`;
  const rebuilder = rebuilders.get(qualified);
  if (rebuilder) return rebuilder;
  if (module === 'torch' && Object.hasOwn(storageDTypes, name)) return new StorageType(storageDTypes[name]!);
  if (module === 'torch' && dtypeNames.includes(name)) return new TorchDType(name);
  if (module === 'torch' && name.endsWith('Storage')) throw invalid(path, `${qualified} is a storage type Curator does not read`);
  throw invalid(path, `${qualified} is not allowed in a checkpoint: a checkpoint never runs code`);
}

function makeRebuilders(path: string): Map<string, Rebuilder> {
  const list = [
    new Rebuilder('collections.OrderedDict', (args) => orderedDict(path, args)),
    new Rebuilder('torch._utils._rebuild_tensor_v2', (args) => rebuildTensor(path, args, 6)),
    new Rebuilder('torch._utils._rebuild_tensor', (args) => rebuildTensor(path, args, 4)),
    new Rebuilder('torch._utils._rebuild_parameter', (args) => rebuildParameter(path, args, 3)),
    new Rebuilder('torch._utils._rebuild_parameter_with_state', (args) => rebuildParameter(path, args, 4)),
  ];
  return new Map(list.map((rebuilder) => [rebuilder.name, rebuilder]));
}

function orderedDict(path: string, args: readonly unknown[]): Map<unknown, unknown> {
  if (args.length === 0) return new Map();
  const [pairs] = args;
  if (args.length !== 1 || !Array.isArray(pairs) || !pairs.every((pair) => Array.isArray(pair) && pair.length === 2)) {
    throw invalid(path, 'pickle builds an OrderedDict from something other than key/value pairs');
  }
  return new Map(pairs as [unknown, unknown][]);
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])` and the older 4-argument form. */
function rebuildTensor(path: string, args: readonly unknown[], minArgs: number): TensorRecord {
  if (args.length < minArgs || args.length > minArgs + 1) throw invalid(path, `pickle rebuilds a tensor with ${args.length} arguments`);
  const [storage, storageOffset, shape, stride] = args;
  if (!isStorageRef(storage)) throw invalid(path, `pickle rebuilds a tensor over ${describe(storage)}, not a storage`);
  if (!isCount(storageOffset)) throw invalid(path, `pickle rebuilds a tensor at storage offset ${describe(storageOffset)}`);
  const dims = countTuple(path, 'size', shape);
  const strides = countTuple(path, 'stride', stride);
  if (strides.length !== dims.length) throw invalid(path, `pickle rebuilds a tensor of size (${dims}) with stride (${strides})`);
  return { storage, dtype: storage.dtype, storageOffset, shape: dims, stride: strides };
}

/** `nn.Parameter` wraps a tensor: `_rebuild_parameter(data, requires_grad, backward_hooks[, state])`. */
function rebuildParameter(path: string, args: readonly unknown[], count: number): TensorRecord {
  const [data] = args;
  if (args.length !== count || !isTensorRecord(data)) throw invalid(path, 'pickle rebuilds a parameter from something other than a tensor');
  return data;
}

/** BUILD is allowed only where state dicts use it: an OrderedDict's attributes (`_metadata`). */
function buildState(path: string, target: unknown, state: unknown): void {
  if (target instanceof Map && (state === null || state instanceof Map)) return;
  throw invalid(path, `pickle sets the state of ${describe(target)}, which a state dict never does`);
}

function countTuple(path: string, what: string, value: unknown): number[] {
  if (!isTuple(value) || !value.every(isCount)) throw invalid(path, `pickle rebuilds a tensor with ${what} ${describe(value)}`);
  return [...value] as number[];
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isStorageRef(value: unknown): value is StorageRef {
  return typeof value === 'object' && value !== null && 'key' in value && 'numel' in value && 'dtype' in value;
}

function isTensorRecord(value: unknown): value is TensorRecord {
  return typeof value === 'object' && value !== null && 'storage' in value && 'stride' in value;
}

/** Parses a persistent id `('storage', <storage type>, key, location, numel[, view_metadata])`. */
export function storagePid(path: string, pid: unknown): { dtype: TensorDType; key: string; numel: number; view: unknown } {
  if (!isTuple(pid) || pid.length < 5 || pid[0] !== 'storage') throw invalid(path, `pickle has a persistent id ${describe(pid)} that is not a storage`);
  const [, type, key, , numel, view] = pid;
  if (!(type instanceof StorageType)) throw invalid(path, `pickle has a storage of type ${describe(type)}`);
  if (typeof key !== 'string' || key.length === 0 || key.length > 256) throw invalid(path, `pickle has a storage key ${describe(key)}`);
  if (!isCount(numel)) throw invalid(path, `pickle has storage ${key} of ${describe(numel)} elements`);
  return { dtype: type.dtype, key, numel, view };
}

/** The top-level value must be a (possibly ordered) dict of tensors. */
function stateDictTensors(path: string, value: unknown): Map<string, TensorRecord> {
  if (!(value instanceof Map)) throw invalid(path, `pickle holds ${describe(value)}, not a state dict`);
  const tensors = new Map<string, TensorRecord>();
  for (const [name, tensor] of value) {
    if (typeof name !== 'string') throw invalid(path, `state dict has a key ${describe(name)} that is not a string`);
    if (!isTensorRecord(tensor)) throw invalid(path, `state dict entry ${name} is ${describe(tensor)}, not a tensor`);
    tensors.set(name, tensor);
  }
  return tensors;
}

/** A short description of a pickled value for error messages (never its whole content). */
export function describe(value: unknown): string {
  if (value === null) return 'None';
  if (value instanceof Rebuilder) return value.name;
  if (value instanceof StorageType) return `a ${value.dtype} storage type`;
  if (value instanceof TorchDType) return `torch.${value.name}`;
  if (value instanceof Map) return 'a dict';
  if (isTuple(value)) return value.length <= 8 && value.every((item) => typeof item === 'number') ? `(${value.join(', ')})` : `a tuple of ${value.length}`;
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (isTensorRecord(value)) return 'a tensor';
  if (isStorageRef(value)) return 'a storage';
  return String(value);
}
