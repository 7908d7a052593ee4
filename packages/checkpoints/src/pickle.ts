// A restricted pickle machine: it knows the opcodes a PyTorch state dict uses (protocols 2 to 5) and
// nothing else. It never imports or calls anything itself: GLOBAL, REDUCE, BUILD and persistent ids
// go to hooks the caller supplies (see torch-pickle.ts), which allow a short list of names and refuse
// every other one. Every length is checked against the bytes that are left before anything is
// allocated from it, and the stack, marks, memo and opcode count are bounded.
import { invalid } from './errors.ts';

export interface PickleHooks {
  /** GLOBAL / STACK_GLOBAL: the value standing for `module.name`; throws to refuse it. */
  global(module: string, name: string): unknown;
  /** REDUCE: `callable(*args)`, where `callable` came from `global`. */
  call(callable: unknown, args: readonly unknown[]): unknown;
  /** BUILD: `target.__setstate__(state)`. */
  build(target: unknown, state: unknown): void;
  /** BINPERSID: what a persistent id stands for (a lazy storage reference). */
  persistentLoad(pid: unknown): unknown;
}

export interface PickleLimits {
  maxOps: number;
  maxStack: number;
  maxMarks: number;
  maxMemo: number;
}

export const defaultPickleLimits: PickleLimits = { maxOps: 50_000_000, maxStack: 1_000_000, maxMarks: 10_000, maxMemo: 10_000_000 };

/** Thrown when `bytes` end early but more of the source exists: the caller may retry with `needed` bytes. */
export class PickleNeedsMoreBytes extends Error {
  readonly needed: number;
  constructor(needed: number) {
    super(`pickle needs ${needed} bytes`);
    this.needed = needed;
  }
}

export interface UnpickleOptions {
  path: string;
  hooks: PickleHooks;
  /** False when `bytes` is a window of a longer source (legacy files hold several pickles and raw data). */
  complete?: boolean;
  limits?: PickleLimits;
}

/** A Python tuple: a frozen array, so APPEND on it is refused. */
export type PickleTuple = readonly unknown[];

export function isTuple(value: unknown): value is PickleTuple {
  return Array.isArray(value) && Object.isFrozen(value);
}

/** Runs one pickle to its STOP. Returns the value and the offset just past STOP. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): { value: unknown; end: number } {
  return new PickleMachine(bytes, options).run();
}

const MARK = Symbol('mark');
const maxLineLength = 1024;

type Handler = (machine: PickleMachine) => void;

class PickleMachine {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly path: string;
  readonly hooks: PickleHooks;
  readonly complete: boolean;
  readonly limits: PickleLimits;
  readonly stack: unknown[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();
  position = 0;
  opStart = 0;
  stopped = false;

  constructor(bytes: Uint8Array, options: UnpickleOptions) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.path = options.path;
    this.hooks = options.hooks;
    this.complete = options.complete ?? true;
    this.limits = options.limits ?? defaultPickleLimits;
  }

  run(): { value: unknown; end: number } {
    for (let ops = 0; !this.stopped; ops++) {
      if (ops >= this.limits.maxOps) this.fail(`has more than ${this.limits.maxOps} opcodes`);
      this.opStart = this.position;
      const opcode = this.take(1)[0]!;
      const handler = handlers[opcode];
      if (!handler) this.fail(refusedOpcodeMessage(opcode));
      handler(this);
    }
    if (this.stack.length !== 1 || this.marks.length !== 0) this.fail('ends with a malformed stack');
    return { value: this.stack[0], end: this.position };
  }

  fail(problem: string): never {
    throw invalid(this.path, `pickle ${problem} (at byte ${this.opStart})`);
  }

  /** The next `length` bytes, refusing a length longer than what is left. */
  take(length: number): Uint8Array {
    const left = this.bytes.length - this.position;
    if (length > left) {
      if (!this.complete) throw new PickleNeedsMoreBytes(this.position + length);
      this.fail(this.position === this.bytes.length ? 'ends before its STOP opcode (truncated?)' : `wants ${length} bytes but only ${left} are left`);
    }
    const slice = this.bytes.subarray(this.position, this.position + length);
    this.position += length;
    return slice;
  }

  uint(size: 1 | 2 | 4): number {
    const at = this.position;
    this.take(size);
    return size === 1 ? this.view.getUint8(at) : size === 2 ? this.view.getUint16(at, true) : this.view.getUint32(at, true);
  }

  uint64(): number {
    const at = this.position;
    this.take(8);
    const value = this.view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`has a length field of ${value}`);
    return Number(value);
  }

  line(): string {
    const end = this.bytes.subarray(this.position, this.position + maxLineLength).indexOf(0x0a);
    if (end < 0) {
      if (!this.complete && this.bytes.length - this.position < maxLineLength) throw new PickleNeedsMoreBytes(this.position + maxLineLength);
      this.fail(`has a GLOBAL name longer than ${maxLineLength} bytes or without its newline`);
    }
    const text = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.position, this.position + end));
    this.position += end + 1;
    return text;
  }

  utf8(length: number): string {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.take(length));
    } catch (error) {
      if (error instanceof PickleNeedsMoreBytes || (error as { code?: string }).code === 'checkpoint_invalid') throw error;
      this.fail('has a string that is not valid UTF-8');
    }
  }

  push(value: unknown): void {
    if (this.stack.length >= this.limits.maxStack) this.fail(`stack grows past ${this.limits.maxStack} items`);
    this.stack.push(value);
  }

  pop(): unknown {
    const floor = this.marks.at(-1) ?? 0;
    if (this.stack.length <= floor) this.fail('pops from an empty stack');
    return this.stack.pop();
  }

  top(): unknown {
    const floor = this.marks.at(-1) ?? 0;
    if (this.stack.length <= floor) this.fail('reads an empty stack');
    return this.stack[this.stack.length - 1];
  }

  mark(): void {
    if (this.marks.length >= this.limits.maxMarks) this.fail(`nests deeper than ${this.limits.maxMarks} marks`);
    this.marks.push(this.stack.length);
  }

  /** The items pushed since the last MARK, removed from the stack with the mark. */
  popMark(): unknown[] {
    const start = this.marks.pop();
    if (start === undefined) this.fail('has no MARK to pop to');
    return this.stack.splice(start);
  }

  memoize(index: number): void {
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) this.fail(`memo grows past ${this.limits.maxMemo} entries`);
    this.memo.set(index, this.top());
  }

  recall(index: number): void {
    if (!this.memo.has(index)) this.fail(`reads memo entry ${index}, which was never stored`);
    this.push(this.memo.get(index));
  }

  setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map)) this.fail('sets items on something that is not a dict');
    if (items.length % 2 !== 0) this.fail('has an odd number of items for SETITEMS');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  }

  append(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target) || Object.isFrozen(target)) this.fail('appends to something that is not a list');
    for (const item of items) target.push(item);
  }

  global(module: string, name: string): void {
    this.push(this.hooks.global(module, name));
  }
}

function signedLittleEndian(bytes: Uint8Array): number | bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes.length > 0 && bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function tuple(items: unknown[]): PickleTuple {
  return Object.freeze(items);
}

function latin1(bytes: Uint8Array): string {
  return new TextDecoder('latin1').decode(bytes);
}

const maxLongBytes = 64;

const handlers: Partial<Record<number, Handler>> = {
  0x80: (m) => {
    // PROTO
    const protocol = m.uint(1);
    if (protocol > 5) m.fail(`uses protocol ${protocol}; protocols up to 5 are read`);
  },
  0x95: (m) => {
    // FRAME: a length hint only; its bytes follow as ordinary opcodes.
    const length = m.uint64();
    if (m.complete && length > m.bytes.length - m.position) m.fail(`announces a frame of ${length} bytes but only ${m.bytes.length - m.position} are left`);
  },
  0x2e: (m) => {
    // STOP
    m.stopped = true;
  },
  0x28: (m) => m.mark(), // MARK
  0x30: (m) => void m.pop(), // POP
  0x31: (m) => void m.popMark(), // POP_MARK
  0x32: (m) => m.push(m.top()), // DUP
  0x7d: (m) => m.push(new Map()), // EMPTY_DICT
  0x5d: (m) => m.push([]), // EMPTY_LIST
  0x29: (m) => m.push(tuple([])), // EMPTY_TUPLE
  0x4e: (m) => m.push(null), // NONE
  0x88: (m) => m.push(true), // NEWTRUE
  0x89: (m) => m.push(false), // NEWFALSE
  0x4b: (m) => m.push(m.uint(1)), // BININT1
  0x4d: (m) => m.push(m.uint(2)), // BININT2
  0x4a: (m) => m.push(m.uint(4) | 0), // BININT (signed)
  0x8a: (m) => m.push(signedLittleEndian(m.take(m.uint(1)))), // LONG1
  0x8b: (m) => {
    // LONG4
    const length = m.uint(4);
    if (length > maxLongBytes) m.fail(`has an integer of ${length} bytes`);
    m.push(signedLittleEndian(m.take(length)));
  },
  0x47: (m) => {
    // BINFLOAT (big-endian double)
    const at = m.position;
    m.take(8);
    m.push(m.view.getFloat64(at, false));
  },
  0x58: (m) => m.push(m.utf8(m.uint(4))), // BINUNICODE
  0x8c: (m) => m.push(m.utf8(m.uint(1))), // SHORT_BINUNICODE
  0x8d: (m) => m.push(m.utf8(m.uint64())), // BINUNICODE8
  0x54: (m) => m.push(latin1(m.take(m.uint(4)))), // BINSTRING (Python 2 str)
  0x55: (m) => m.push(latin1(m.take(m.uint(1)))), // SHORT_BINSTRING
  0x42: (m) => m.push(m.take(m.uint(4)).slice()), // BINBYTES
  0x43: (m) => m.push(m.take(m.uint(1)).slice()), // SHORT_BINBYTES
  0x8e: (m) => m.push(m.take(m.uint64()).slice()), // BINBYTES8
  0x74: (m) => m.push(tuple(m.popMark())), // TUPLE
  0x85: (m) => m.push(tuple([m.pop()])), // TUPLE1
  0x86: (m) => {
    // TUPLE2
    const second = m.pop();
    m.push(tuple([m.pop(), second]));
  },
  0x87: (m) => {
    // TUPLE3
    const third = m.pop();
    const second = m.pop();
    m.push(tuple([m.pop(), second, third]));
  },
  0x6c: (m) => m.push(m.popMark()), // LIST
  0x64: (m) => {
    // DICT
    const items = m.popMark();
    const dict = new Map();
    m.setItems(dict, items);
    m.push(dict);
  },
  0x61: (m) => {
    // APPEND
    const item = m.pop();
    m.append(m.top(), [item]);
  },
  0x65: (m) => {
    // APPENDS
    const items = m.popMark();
    m.append(m.top(), items);
  },
  0x73: (m) => {
    // SETITEM
    const value = m.pop();
    const key = m.pop();
    m.setItems(m.top(), [key, value]);
  },
  0x75: (m) => {
    // SETITEMS
    const items = m.popMark();
    m.setItems(m.top(), items);
  },
  0x63: (m) => {
    // GLOBAL
    const module = m.line();
    m.global(module, m.line());
  },
  0x93: (m) => {
    // STACK_GLOBAL
    const name = m.pop();
    const module = m.pop();
    if (typeof module !== 'string' || typeof name !== 'string') return m.fail('has a STACK_GLOBAL whose module or name is not a string');
    m.global(module, name);
  },
  0x52: (m) => {
    // REDUCE
    const args = m.pop();
    const callable = m.pop();
    if (!isTuple(args)) return m.fail('calls with arguments that are not a tuple');
    m.push(m.hooks.call(callable, args));
  },
  0x62: (m) => {
    // BUILD
    const state = m.pop();
    m.hooks.build(m.top(), state);
  },
  0x51: (m) => m.push(m.hooks.persistentLoad(m.pop())), // BINPERSID
  0x71: (m) => m.memoize(m.uint(1)), // BINPUT
  0x72: (m) => m.memoize(m.uint(4)), // LONG_BINPUT
  0x94: (m) => m.memoize(m.memo.size), // MEMOIZE
  0x68: (m) => m.recall(m.uint(1)), // BINGET
  0x6a: (m) => m.recall(m.uint(4)), // LONG_BINGET
};

// Opcodes that exist but that a state dict never needs; named so the refusal says which one.
const refusedOpcodes: Record<number, string> = {
  0x69: 'INST',
  0x6f: 'OBJ',
  0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x50: 'PERSID',
  0x49: 'INT',
  0x4c: 'LONG',
  0x46: 'FLOAT',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x70: 'PUT',
  0x67: 'GET',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

function refusedOpcodeMessage(opcode: number): string {
  const hex = `0x${opcode.toString(16).padStart(2, '0')}`;
  const name = refusedOpcodes[opcode];
  return name ? `uses opcode ${name} (${hex}), which a checkpoint does not need` : `has an unknown opcode ${hex}`;
}
