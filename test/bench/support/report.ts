// Printing for the benches: progress lines with the time since start (a long run shows where it is),
// and Markdown tables ready for docs/benchmarks.md.
import { cpus, totalmem } from 'node:os';
import { cores, loadAverage } from './resources.ts';

const startedAt = performance.now();

export function progress(message: string): void {
  console.error(`[bench +${((performance.now() - startedAt) / 1000).toFixed(0)} s, load ${loadAverage().toFixed(2)}] ${message}`);
}

export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** "Node v24.x, 2 cores (AMD EPYC ...), 24 GiB, 2026-12-02T22:00Z". */
export function machineLine(): string {
  return `Node ${process.version}, ${cores} cores (${cpus()[0]?.model.trim() ?? 'cpu'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${new Date().toISOString().slice(0, 16)}Z`;
}

/** A number of the environment (`BENCH_SECONDS=20`), or its default. */
export function setting(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not ${process.env[name]}`);
  return value;
}

/** A list of numbers of the environment (`BENCH_CONNECTIONS=32,256`), or its default. */
export function listSetting(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  const values = raw.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`${name} must be a comma-separated list of positive integers, not ${raw}`);
  return values;
}
