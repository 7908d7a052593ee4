// Starts Curator's real processes for system tests and reads their JSON log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Running {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first log line (parsed) that matches. */
  waitForLog(match: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

export function run(script: string, args: string[], vars: Record<string, string>): Running {
  const child = spawn(process.execPath, [script, ...args], { cwd: root, env: { ...process.env, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const entries: Record<string, unknown>[] = [];
  const waiters: Array<{ match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      entries.push(entry);
      for (const w of [...waiters]) if (w.match(entry)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(entry);
      }
    });
  }
  return {
    child,
    lines,
    waitForLog: (match) => {
      const seen = entries.find(match);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<Record<string, unknown>>((resolve) => waiters.push({ match, resolve })),
        exited.then((code) => {
          throw new Error(`${script} exited with ${code} before the expected log line:\n${lines.slice(-30).join('\n')}`);
        }),
      ]);
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

