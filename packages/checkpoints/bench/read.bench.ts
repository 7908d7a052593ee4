// Reading a BERT-large-sized checkpoint (~1.3 GB of float32) tensor by tensor, as the converter will.
// Writes a random safetensors file and a torch zip checkpoint of the same tensors to a temp dir,
// then, in a fresh process per file (so the peak RSS is the read's own), reads every tensor as
// float32 in turn. Prints time, throughput and peak RSS (VmHWM). Benchmarks print; they never assert.
//
//   node packages/checkpoints/bench/read.bench.ts
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint, writeSafetensors, writeTorchCheckpoint, type NamedTensor } from '../src/index.ts';

const hidden = 1024;
const layers = 24;
const vocab = 30522;

/** BERT-large's big tensors: embeddings, then per layer Q, K, V, O (1024x1024) and the two FFN matrices. */
function shapes(): [string, number[]][] {
  const list: [string, number[]][] = [['embeddings.word_embeddings.weight', [vocab, hidden]]];
  for (let i = 0; i < layers; i++) {
    for (const name of ['query', 'key', 'value']) list.push([`encoder.layer.${i}.attention.self.${name}.weight`, [hidden, hidden]]);
    list.push([`encoder.layer.${i}.attention.output.dense.weight`, [hidden, hidden]]);
    list.push([`encoder.layer.${i}.intermediate.dense.weight`, [4 * hidden, hidden]]);
    list.push([`encoder.layer.${i}.output.dense.weight`, [hidden, 4 * hidden]]);
  }
  return list;
}

/** Seeded uniform values in [-0.05, 0.05), made when the writer asks for the tensor. */
function randomTensors(seed: number): NamedTensor[] {
  return shapes().map(([name, shape], index) => ({
    name,
    dtype: 'F32',
    shape,
    data: () => {
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      let state = (seed * 7919 + index * 104729) >>> 0 || 1;
      for (let i = 0; i < values.length; i++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        values[i] = ((state >>> 0) / 4294967296 - 0.5) * 0.1;
      }
      return values;
    },
  }));
}

function peakRssMiB(): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? 0) / 1024;
}

/** Child mode: read every tensor of one file as float32, then print a JSON line of figures. */
async function readAll(path: string): Promise<void> {
  const started = performance.now();
  const reader = await openCheckpoint(path);
  const opened = performance.now() - started;
  let floats = 0;
  let checksum = 0;
  for (const info of reader.tensors()) {
    const values = await reader.readFloat32(info.name);
    floats += values.length;
    checksum += values[values.length - 1]!; // touch the data so nothing is skipped
  }
  await reader.close();
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ format: reader.format, openMs: opened, seconds, floats, checksum, peakRssMiB: peakRssMiB() }));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'curator-read-bench-'));
  try {
    const files = [
      ['safetensors', join(dir, 'model.safetensors'), (path: string) => writeSafetensors(path, randomTensors(1))],
      ['torch zip', join(dir, 'pytorch_model.bin'), (path: string) => writeTorchCheckpoint(path, randomTensors(1))],
    ] as const;
    console.log(`| file | size | write s | read-all s | read GB/s | open ms | peak RSS of the read (MiB) |`);
    console.log(`| --- | --- | --- | --- | --- | --- | --- |`);
    for (const [label, path, write] of files) {
      const writeStart = performance.now();
      process.stderr.write(`writing ${label}...\n`);
      await write(path);
      const writeSeconds = (performance.now() - writeStart) / 1000;
      const { size } = await stat(path);
      process.stderr.write(`reading ${label} in a fresh process...\n`);
      const child = spawnSync(process.execPath, [import.meta.filename, '--read', path], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`reader failed: ${child.stderr}`);
      const figures = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { seconds: number; openMs: number; peakRssMiB: number; floats: number };
      console.log(
        `| ${label} | ${(size / 1e9).toFixed(2)} GB | ${writeSeconds.toFixed(1)} | ${figures.seconds.toFixed(2)} | ${(size / 1e9 / figures.seconds).toFixed(2)} | ${figures.openMs.toFixed(1)} | ${figures.peakRssMiB.toFixed(0)} |`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const readIndex = process.argv.indexOf('--read');
if (readIndex > 0) await readAll(process.argv[readIndex + 1]!);
else await main();
