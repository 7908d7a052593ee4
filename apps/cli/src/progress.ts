// The terminal's progress bars, shared by every command that shows them (model pulls and
// conversions, jobs followed live): cli-progress, loaded only where a terminal shows the bars.
import { createRequire } from 'node:module';

// cli-progress ships no types; this is the part of its API used here.
export interface ProgressBar {
  update(value: number, payload?: object): void;
  setTotal(total: number): void;
}
export interface MultiBar {
  create(total: number, start: number, payload?: object): ProgressBar;
  log(text: string): void;
  stop(): void;
}
interface CliProgress {
  MultiBar: new (options: object, preset?: object) => MultiBar;
  Presets: Record<string, object>;
}

export interface MultiBarOptions {
  /** cli-progress format: `{bar}`, `{percentage}`, `{value}`, `{total}` and payload fields. */
  format: string;
  formatValue?: (value: number, options: unknown, type: string) => string;
}

/** Whether to draw bars: only on a terminal (CI logs and pipes get plain lines instead). */
export const drawsBars = (stream: { isTTY?: boolean }): boolean => stream.isTTY === true;

/** Bars on `stream` that keep their place while lines are logged above them. */
export function createMultiBar(stream: NodeJS.WritableStream, options: MultiBarOptions): MultiBar {
  const cliProgress = createRequire(import.meta.url)('cli-progress') as CliProgress;
  return new cliProgress.MultiBar(
    { stream, hideCursor: true, clearOnComplete: false, format: options.format, ...(options.formatValue ? { formatValue: options.formatValue } : {}) },
    cliProgress.Presets['shades_classic'],
  );
}
