// What a process used, read from outside through /proc (Linux): CPU seconds (every thread), resident
// memory, and the machine's load, so a bench can say which process was busy while it measured and how
// busy the machine was with work that is not the bench's (other sessions share its cores).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds a process has used so far, over all its threads; null once it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** Resident set size in bytes (VmRSS), and the peak so far (VmHWM); null once the process is gone. */
export function memoryOf(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return null;
  }
}

/** CPU seconds the whole machine spent busy (not idle or waiting for I/O), summed over its cores. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / clockTicks;
}

export const cores = availableParallelism();

/** One-minute load average, as `uptime` shows it. */
export function loadAverage(): number {
  return loadavg()[0]!;
}

/**
 * Pins a running process and all its threads to `cpus` (e.g. "0" or "1"); threads it starts later
 * inherit it. Returns false (and the bench records "not pinned") when taskset is missing or refused.
 */
export function pin(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The pid of the process listening on a loopback TCP port (for processes started by helpers that do not expose it). */
export function pidListeningOn(port: number): number | null {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
    return Number(/pid=(\d+)/.exec(out)?.[1]) || null;
  } catch {
    return null;
  }
}

/**
 * CPU used between `start()` and `stop()`: by each named process (as a share of one core: 1.0 = one
 * core busy the whole time) and by the whole machine, less the named processes ("others").
 */
export function cpuMeter(processes: Record<string, number>) {
  const started = performance.now();
  const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid) ?? 0]));
  const machineBefore = machineBusySeconds();
  const loadBefore = loadAverage();
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000;
      const perProcess: Record<string, number> = {};
      let ours = 0;
      for (const [name, pid] of Object.entries(processes)) {
        const used = (cpuSeconds(pid) ?? before[name]!) - before[name]!;
        perProcess[name] = used / seconds;
        ours += used;
      }
      const machine = (machineBusySeconds() - machineBefore) / seconds;
      return { seconds, perProcess, machine, others: Math.max(0, machine - ours / seconds), loadBefore, loadAfter: loadAverage() };
    },
  };
}

export type CpuReading = ReturnType<ReturnType<typeof cpuMeter>['stop']>;

/** "gateway 0.93, redis 0.41" (cores busy). */
export function formatCpu(perProcess: Record<string, number>): string {
  return Object.entries(perProcess)
    .map(([name, share]) => `${name} ${share.toFixed(2)}`)
    .join(', ');
}

export const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;
