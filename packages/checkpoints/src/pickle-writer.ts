// Writes the protocol-2 pickle torch.save produces for a state dict: an OrderedDict whose values are
// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())` with each
// storage a persistent id `('storage', torch.<Type>Storage, key, 'cpu', numel)`.
import type { TensorDType } from './types.ts';

export interface PickledTensor {
  name: string;
  dtype: TensorDType;
  shape: readonly number[];
  storageKey: string;
  numel: number;
}

const storageTypes: Record<TensorDType, string> = {
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  F64: 'DoubleStorage',
  I64: 'LongStorage',
  I32: 'IntStorage',
  I16: 'ShortStorage',
  I8: 'CharStorage',
  U8: 'ByteStorage',
  BOOL: 'BoolStorage',
};

/** torch's contiguous strides: each is the product of the later sizes, a 0 size counting as 1. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= Math.max(shape[i]!, 1);
  }
  return strides;
}

export function pickleStateDict(tensors: readonly PickledTensor[]): Uint8Array {
  const out = new PickleWriter();
  out.bytes(0x80, 2); // PROTO 2
  out.global('collections', 'OrderedDict');
  out.bytes(0x29, 0x52); // EMPTY_TUPLE REDUCE: OrderedDict()
  if (tensors.length > 0) {
    out.bytes(0x28); // MARK
    for (const tensor of tensors) {
      out.string(tensor.name);
      pickleTensor(out, tensor);
    }
    out.bytes(0x75); // SETITEMS
  }
  out.bytes(0x2e); // STOP
  return out.finish();
}

function pickleTensor(out: PickleWriter, tensor: PickledTensor): void {
  out.global('torch._utils', '_rebuild_tensor_v2');
  out.bytes(0x28, 0x28); // MARK (args) MARK (persistent id)
  out.string('storage');
  out.global('torch', storageTypes[tensor.dtype]);
  out.string(tensor.storageKey);
  out.string('cpu');
  out.int(tensor.numel);
  out.bytes(0x74, 0x51); // TUPLE BINPERSID
  out.int(0); // storage offset
  out.tuple(tensor.shape);
  out.tuple(contiguousStrides(tensor.shape));
  out.bytes(0x89); // NEWFALSE: requires_grad
  out.global('collections', 'OrderedDict');
  out.bytes(0x29, 0x52); // backward_hooks = OrderedDict()
  out.bytes(0x74, 0x52); // TUPLE REDUCE
}

class PickleWriter {
  readonly #chunks: number[] = [];
  readonly #memo = new Map<string, number>();

  bytes(...values: number[]): void {
    for (const value of values) this.#chunks.push(value);
  }

  #raw(bytes: Uint8Array): void {
    for (const byte of bytes) this.#chunks.push(byte);
  }

  #u32(value: number): void {
    this.bytes(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
  }

  /** GLOBAL the first time (memoized with BINPUT/LONG_BINPUT), BINGET/LONG_BINGET after, as pickle does. */
  global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const index = this.#memo.get(key);
    if (index !== undefined) {
      if (index < 256) this.bytes(0x68, index);
      else (this.bytes(0x6a), this.#u32(index));
      return;
    }
    this.bytes(0x63);
    this.#raw(new TextEncoder().encode(`${key}\n`));
    const slot = this.#memo.size;
    this.#memo.set(key, slot);
    if (slot < 256) this.bytes(0x71, slot);
    else (this.bytes(0x72), this.#u32(slot));
  }

  string(value: string): void {
    const encoded = new TextEncoder().encode(value);
    this.bytes(0x58); // BINUNICODE
    this.#u32(encoded.length);
    this.#raw(encoded);
  }

  int(value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`cannot pickle ${value} as an integer`);
    if (value >= 0 && value < 0x100) return this.bytes(0x4b, value); // BININT1
    if (value >= 0 && value < 0x10000) return this.bytes(0x4d, value & 0xff, value >>> 8); // BININT2
    if (value >= -0x80000000 && value < 0x80000000) return (this.bytes(0x4a), this.#u32(value >>> 0)); // BININT
    this.#long(BigInt(value));
  }

  /** LONG1: the shortest two's-complement little-endian bytes. */
  #long(value: bigint): void {
    const bytes: number[] = [];
    let rest = value;
    do {
      bytes.push(Number(rest & 0xffn));
      rest >>= 8n;
    } while (!((rest === 0n && (bytes.at(-1)! & 0x80) === 0) || (rest === -1n && (bytes.at(-1)! & 0x80) !== 0)));
    this.bytes(0x8a, bytes.length, ...bytes);
  }

  tuple(values: readonly number[]): void {
    if (values.length === 0) return this.bytes(0x29); // EMPTY_TUPLE
    if (values.length <= 3) {
      for (const value of values) this.int(value);
      return this.bytes([0x85, 0x86, 0x87][values.length - 1]!); // TUPLE1..3
    }
    this.bytes(0x28);
    for (const value of values) this.int(value);
    this.bytes(0x74);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#chunks);
  }
}
