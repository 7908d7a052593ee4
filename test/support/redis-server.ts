// A redis-server of the test's own: its own port and data folder, AOF persistence on, so a test can
// crash it, stop it, freeze it and restart it without touching the machine's shared Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { waitFor } from '@curator/testkit';
import { freePort } from './ports.ts';

export interface RedisServer {
  port: number;
  url: string;
  /** Starts it (again) on the same port and folder; the AOF brings the data back. */
  start(): Promise<void>;
  /** SIGTERM: Redis flushes the AOF and exits. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. */
  crash(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing is answered (a hung or partitioned Redis). */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  running(): boolean;
}

/** Answers PING with PONG (and not LOADING while the AOF is read back). */
function pongs(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export async function startRedisServer(options: { dir: string; port?: number }): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  await mkdir(options.dir, { recursive: true });
  let child: ChildProcess | null = null;
  let frozen = false;

  const signal = async (name: 'SIGTERM' | 'SIGKILL') => {
    const current = child;
    if (!current) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    if (frozen) current.kill('SIGCONT');
    frozen = false;
    current.kill(name);
    await exited;
    child = null;
  };

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child) throw new Error(`redis-server on ${port} is already running`);
      const started = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', options.dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--loglevel', 'warning'],
        { stdio: 'ignore' },
      );
      child = started;
      started.once('exit', () => {
        if (child === started) child = null;
      });
      await waitFor(() => pongs(port), Boolean, `redis-server on ${port}`, 30_000);
    },
    stop: () => signal('SIGTERM'),
    crash: () => signal('SIGKILL'),
    freeze() {
      child?.kill('SIGSTOP');
      frozen = true;
    },
    thaw() {
      child?.kill('SIGCONT');
      frozen = false;
    },
    running: () => child !== null,
  };
  await server.start();
  return server;
}
