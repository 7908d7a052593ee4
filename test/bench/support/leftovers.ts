// Every process a bench started and every folder it made, until it is done with them: a bench that fails
// half way, or is stopped with Ctrl-C, leaves no redis-server, Node process or load generator running
// and no data behind. Processes are forgotten once they exit, so a pid the OS gives to another process
// is never signalled.
import { rmSync } from 'node:fs';

const pids = new Set<number>();
const dirs = new Set<string>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', () => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
}

/** Killed when the bench exits unless `forgetProcess` came first. */
export function trackProcess(pid: number | undefined | null): void {
  install();
  if (pid) pids.add(pid);
}

export function forgetProcess(pid: number | undefined | null): void {
  if (pid) pids.delete(pid);
}

/** A folder of the bench's own that goes when the bench ends, however it ends (unless `keep()`). */
export function removeOnExit(dir: string): { keep(): void } {
  install();
  dirs.add(dir);
  return { keep: () => dirs.delete(dir) };
}
