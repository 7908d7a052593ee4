// The restricted unpickler on hand-made pickles: malformed or malicious input is refused quickly
// with a message that says what is wrong, never a crash, a hang or an allocation sized by the input.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unpickle, type PickleLimits } from '../src/pickle.ts';
import { plainHooks, unpickleStateDict } from '../src/torch-pickle.ts';

const path = 'test.pkl';
const noStorages = () => {
  throw new Error('no storages in these pickles');
};

function bytes(...parts: (number | string | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else if (typeof part === 'string') out.push(...new TextEncoder().encode(part));
    else out.push(...part);
  }
  return new Uint8Array(out);
}

function u32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function run(pickle: Uint8Array, limits?: PickleLimits): unknown {
  return unpickle(pickle, { path, hooks: plainHooks(path), ...(limits ? { limits } : {}) }).value;
}

function refuses(pickle: Uint8Array, problem: RegExp, limits?: PickleLimits): void {
  assert.throws(() => run(pickle, limits), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'checkpoint_invalid');
    assert.match(error.message, problem);
    return true;
  });
}

const PROTO2 = [0x80, 2];
const STOP = 0x2e;

describe('restricted unpickler', () => {
  it('reads the values state dicts use', () => {
    // {'a': [1, -2, 300, 2**40], 'b': (True, None, 1.5, 'é')}, the tuple memoized, popped and fetched back
    const pickle = bytes(PROTO2, 0x7d, 0x28, 0x8c, 1, 'a', 0x5d, 0x28, 0x4b, 1, 0x4a, u32(-2 >>> 0), 0x4d, 0x2c, 0x01, 0x8a, 6, [0, 0, 0, 0, 0, 1], 0x65, 0x8c, 1, 'b', 0x28, 0x88, 0x4e, 0x47, [0x3f, 0xf8, 0, 0, 0, 0, 0, 0], 0x58, u32(2), [0xc3, 0xa9], 0x74, 0x71, 0, 0x30, 0x68, 0, 0x75, STOP);
    const value = run(pickle) as Map<string, unknown>;
    assert.deepEqual([...value.keys()], ['a', 'b']);
    assert.deepEqual(value.get('a'), [1, -2, 300, 2 ** 40]);
    assert.deepEqual(value.get('b'), [true, null, 1.5, 'é']);
    assert.ok(Object.isFrozen(value.get('b')), 'a tuple is frozen');
  });

  it('turns integers past 2**53 into bigints, exactly', () => {
    assert.equal(run(bytes(PROTO2, 0x8a, 9, [1, 0, 0, 0, 0, 0, 0, 0, 1], STOP)), (1n << 64n) + 1n);
    assert.equal(run(bytes(PROTO2, 0x8a, 2, [0xff, 0xff], STOP)), -1);
  });

  it('refuses every global that is not on the list, by name, before anything else happens', () => {
    refuses(bytes(PROTO2, 0x63, 'posix\nsystem\n', STOP), /posix\.system is not allowed in a checkpoint: a checkpoint never runs code/);
    refuses(bytes([0x80, 4], 0x8c, 2, 'os', 0x8c, 6, 'system', 0x93, STOP), /os\.system is not allowed/);
    refuses(bytes(PROTO2, 0x63, 'torch\nload\n', STOP), /torch\.load is not allowed/);
    refuses(bytes(PROTO2, 0x63, 'torch\nComplexFloatStorage\n', STOP), /torch\.ComplexFloatStorage is a storage type Curator does not read/);
  });

  it('refuses to call what is not a rebuild function', () => {
    refuses(bytes(PROTO2, 0x63, 'torch\nFloatStorage\n', 0x29, 0x52, STOP), /calls a F32 storage type, which is not callable/);
  });

  it('refuses BUILD on anything but an OrderedDict', () => {
    refuses(bytes(PROTO2, 0x5d, 0x7d, 0x62, STOP), /sets the state of a list of 0/);
  });

  it('refuses opcodes a state dict never needs, naming them', () => {
    refuses(bytes(PROTO2, 0x63, 'collections\nOrderedDict\n', 0x29, 0x81, STOP), /opcode NEWOBJ \(0x81\)/);
    refuses(bytes(PROTO2, 0x69, 'os\nsystem\n', STOP), /opcode INST \(0x69\)/);
    refuses(bytes(PROTO2, 0xff, STOP), /unknown opcode 0xff/);
    refuses(bytes([0x80, 6], STOP), /uses protocol 6/);
  });

  it('refuses lengths longer than the bytes that are left, without allocating them', () => {
    refuses(bytes(PROTO2, 0x58, u32(0xfffffff0), 'abc', STOP), /wants 4294967280 bytes but only 4 are left/);
    refuses(bytes(PROTO2, 0x8d, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0], STOP), /has a length field of|wants \d+ bytes/);
    refuses(bytes(PROTO2, 0x42, u32(1 << 30), STOP), /wants 1073741824 bytes but only 1 are left/);
    refuses(bytes(PROTO2, 0x8b, u32(1 << 30), STOP), /integer of 1073741824 bytes/);
    refuses(bytes(PROTO2, 0x95, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], STOP), /frame of 4294967295 bytes/);
  });

  it('refuses truncated and malformed streams', () => {
    refuses(bytes(PROTO2, 0x7d), /ends before its STOP opcode/);
    refuses(bytes(PROTO2, 0x30, STOP), /pops from an empty stack/);
    refuses(bytes(PROTO2, 0x68, 7, STOP), /memo entry 7, which was never stored/);
    refuses(bytes(PROTO2, 0x74, STOP), /no MARK to pop to/);
    refuses(bytes(PROTO2, 0x4e, 0x4e, STOP), /malformed stack/);
    refuses(bytes(PROTO2, 0x29, 0x4e, 0x61, STOP), /appends to something that is not a list/);
    refuses(bytes(PROTO2, 0x5d, 0x4e, 0x4e, 0x73, STOP), /sets items on something that is not a dict/);
    refuses(bytes(PROTO2, 0x63, 'a'.repeat(2000), STOP), /GLOBAL name longer than 1024 bytes/);
    refuses(bytes(PROTO2, 0x8c, 2, [0xff, 0xfe], STOP), /not valid UTF-8/);
  });

  it('bounds nesting, the stack and the memo', () => {
    refuses(bytes(PROTO2, new Array(10_001).fill(0x28), STOP), /nests deeper than 10000 marks/);
    const small: PickleLimits = { maxOps: 1000, maxStack: 100, maxMarks: 10, maxMemo: 20 };
    refuses(bytes(PROTO2, 0x4e, new Array(200).fill(0x32), STOP), /stack grows past 100 items/, small);
    refuses(bytes(PROTO2, 0x4e, new Array(30).fill(0x94), STOP), /memo grows past 20 entries/, small);
    refuses(bytes(PROTO2, new Array(600).fill([0x4e, 0x30]).flat(), STOP), /more than 1000 opcodes/, small);
  });

  it('does not loop on a list that contains itself', () => {
    const value = run(bytes(PROTO2, 0x5d, 0x71, 0, 0x68, 0, 0x61, STOP)) as unknown[];
    assert.equal(value[0], value);
    assert.throws(() => unpickleStateDict(path, bytes(PROTO2, 0x5d, 0x71, 0, 0x68, 0, 0x61, STOP), noStorages), /holds a list of 1, not a state dict/);
  });

  it('refuses a state dict entry that is not a tensor, naming it', () => {
    assert.throws(() => unpickleStateDict(path, bytes(PROTO2, 0x7d, 0x8c, 5, 'epoch', 0x4b, 3, 0x73, STOP), noStorages), /state dict entry epoch is 3, not a tensor/);
  });
});
