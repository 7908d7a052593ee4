// The soak bench's leak finder, on real heap snapshots of a child process that keeps what it makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { growingClasses, readHeapSnapshot, retainingPaths } from './support/heap-snapshot.ts';

// Keeps 100, then 5,100, then 10,100 `Leaky` objects in a Map under a global, writing a snapshot after each.
const leakyProcess = `
import { writeHeapSnapshot } from 'node:v8';
class Leaky { constructor(n) { this.n = n; } }
class Holder { constructor() { this.byId = new Map(); } }
globalThis.registry = new Holder();
let next = 0;
const keep = (count) => { for (let i = 0; i < count; i++) globalThis.registry.byId.set(next, new Leaky(next++)); };
const dir = process.argv[1];
keep(100);
writeHeapSnapshot(dir + '/1.heapsnapshot');
keep(5000);
writeHeapSnapshot(dir + '/2.heapsnapshot');
keep(5000);
writeHeapSnapshot(dir + '/3.heapsnapshot');
`;

test('finds the class that grows between snapshots, its new objects, and the path that retains them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'curator-heap-test-'));
  try {
    execFileSync(process.execPath, ['--input-type=module', '-e', leakyProcess, dir]);
    assert.deepEqual((await readdir(dir)).sort(), ['1.heapsnapshot', '2.heapsnapshot', '3.heapsnapshot']);
    const first = readHeapSnapshot(join(dir, '1.heapsnapshot'));
    const snapshots = [first, readHeapSnapshot(join(dir, '2.heapsnapshot'), first.maxId), readHeapSnapshot(join(dir, '3.heapsnapshot'), first.maxId)];

    assert.equal(first.byClass.get('Leaky')?.count, 100);
    const leaky = growingClasses(snapshots, 50).find((g) => g.className === 'Leaky');
    assert.ok(leaky, 'Leaky is among the classes that grew most');
    assert.deepEqual(leaky.counts, [100, 5100, 10100]);
    assert.equal(leaky.steadyGrowth, true);
    assert.equal(snapshots[2]!.newerByClass.get('Leaky')?.count, 10000, 'the objects made after snapshot 1');
    assert.ok(snapshots[2]!.liveBytes > first.liveBytes);

    const paths = retainingPaths(snapshots[2]!, 'Leaky', first.maxId, 2);
    assert.equal(paths.length, 2);
    for (const path of paths) {
      assert.match(path, /^\(root\) /);
      assert.match(path, /\.registry-> Holder@\d+ -\.byId-> Map@\d+/, path);
      assert.match(path, /-> Leaky@\d+$/, path);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
