// The whole system as it is deployed: the gateway and a worker as their own processes
// (apps/gateway/src/main.ts, apps/worker/src/main.ts) on the generated test models, real Redis (a
// queue prefix of its own), the embedded S3 server. Started by path, not imported, so the client
// and the studio take no package dependency on the apps. Shared by the client's tests and the web
// studio's browser tests.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { run, type Running } from '../../../../test/support/processes.ts';

export interface RunningSystem {
  /** The gateway, e.g. http://127.0.0.1:40123. */
  url: string;
  environment: TestEnvironment;
  close(): Promise<void>;
}

export async function startSystem(options: { vars?: Record<string, string> } = {}): Promise<RunningSystem> {
  // Info logs: the processes say on stdout when they are ready and where they listen.
  // A generous Redis command limit: on a loaded machine the default (2 s) answers 503 to a submit,
  // and these tests are about the API's behaviour, not Redis outages (the gateway's tests cover those).
  const environment = await testEnvironment({ vars: { LOG_LEVEL: 'info', WORKER_HEARTBEAT_MS: '1000', REDIS_COMMAND_TIMEOUT_MS: '30000', ...options.vars } });
  const processes: Running[] = [];
  const close = async () => {
    for (const child of processes.reverse()) await child.stop();
    await environment.close();
  };
  try {
    const worker = run('apps/worker/src/main.ts', [], environment.vars);
    processes.push(worker);
    const gateway = run('apps/gateway/src/main.ts', [], environment.vars);
    processes.push(gateway);
    await worker.waitForLog((entry) => entry.msg === 'worker ready');
    const url = String((await gateway.waitForLog((entry) => entry.msg === 'gateway listening')).url);
    await waitFor(() => fetch(`${url}/readyz`).then((response) => response.status), (status) => status === 200, 'the system to be ready');
    return { url, environment, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `curator <args>` (the CLI as its own process) against the system's Redis and gateway; resolves with its stdout. */
export function curatorCli(system: RunningSystem, args: string[]): Promise<string> {
  const main = fileURLToPath(new URL('../../../../apps/cli/src/main.ts', import.meta.url));
  const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, ...system.environment.vars, CURATOR_URL: system.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`curator ${args.join(' ')} exited ${code}: ${stderr}`)))));
}

/**
 * An API key made with `curator keys create`: from then on the gateway asks every caller for a key
 * (it reads whether keys exist at most a second late; this waits until it does). `revoke()` takes
 * it back and waits until the gateway runs open again.
 */
export async function withApiKey(system: RunningSystem, name: string): Promise<{ secret: string; revoke(): Promise<void> }> {
  const created = JSON.parse(await curatorCli(system, ['keys', 'create', '--name', name, '--json'])) as { key: { id: string }; secret: string };
  const status = () => fetch(`${system.url}/jobs`).then((response) => response.status);
  await waitFor(status, (code) => code === 401, 'the gateway to ask for a key');
  return {
    secret: created.secret,
    async revoke() {
      await curatorCli(system, ['keys', 'revoke', created.key.id]);
      await waitFor(status, (code) => code === 200, 'the gateway to run open again');
    },
  };
}
