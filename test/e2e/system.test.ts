// End to end: the real processes (`curator start`, and gateway + worker as separate processes),
// real Redis, a real S3 protocol server, real onnxruntime sessions on the generated models.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';

const root = fileURLToPath(new URL('../..', import.meta.url));
let t: TestEnvironment;

before(async () => {
  t = await testEnvironment({ vars: { LOG_LEVEL: 'info' } });
});
after(async () => {
  await t.close();
});

interface Running {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first log line (parsed) that matches. */
  waitForLog(match: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

function run(script: string, args: string[], vars: Record<string, string>): Running {
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

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
  return { status: res.status, body: await res.json() };
}

test('`curator start` runs the whole system in one process: a classify job succeeds over HTTP', async () => {
  const curator = run('apps/cli/src/main.ts', ['start'], t.vars);
  try {
    const up = await curator.waitForLog((e) => e.msg === 'Curator is up');
    const url = String(up.url);

    const accepted = await json(`${url}/jobs`, { method: 'POST', body: JSON.stringify({ type: 'classify', input: { text: 'I love this!' } }) });
    assert.equal(accepted.status, 202);
    const view = await waitFor(() => json(`${url}/jobs/${accepted.body.id}`), (r) => r.body.status === 'succeeded' || r.body.status === 'failed', 'the job');
    assert.equal(view.body.status, 'succeeded', JSON.stringify(view.body.error));
    assert.ok(['negative', 'neutral', 'positive'].includes(view.body.result.label));

    const invalid = await json(`${url}/jobs`, { method: 'POST', body: JSON.stringify({ type: 'classify', input: {} }) });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error.details[0].path, /^input/);

    const ready = await json(`${url}/readyz`);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    const workers = await json(`${url}/workers`);
    assert.equal(workers.body.workers.length, 1);
  } finally {
    assert.equal(await curator.stop(), 0);
  }
});

test('gateway and worker as separate processes: events stream the job to completion; SIGTERM stops both cleanly', async () => {
  const worker = run('apps/worker/src/main.ts', [], t.vars);
  const gateway = run('apps/gateway/src/main.ts', [], t.vars);
  try {
    await worker.waitForLog((e) => e.msg === 'worker ready');
    const listening = await gateway.waitForLog((e) => e.msg === 'gateway listening');
    const url = String(listening.url);
    await waitFor(() => json(`${url}/readyz`), (r) => r.status === 200, 'readiness');

    const accepted = await json(`${url}/jobs`, { method: 'POST', body: JSON.stringify({ type: 'classify', input: { text: 'The match ended in a draw.' }, params: { task: 'genre' } }) });
    const res = await fetch(`${url}${accepted.body.links.events}`);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const text = await res.text(); // the stream ends when the job does
    const events = text
      .split('\n\n')
      .filter((block) => block.startsWith('event:'))
      .map((block) => ({ event: block.split('\n')[0]!.slice('event: '.length), data: JSON.parse(block.split('\n')[1]!.slice('data: '.length)) }));
    assert.equal(events[0]?.event, 'snapshot');
    const last = events.at(-1)!;
    assert.equal(last.event, 'completed');
    assert.equal(last.data.job.status, 'succeeded');
    assert.ok(['business', 'entertainment', 'politics', 'sport', 'tech'].includes(last.data.job.result.label));
  } finally {
    assert.equal(await gateway.stop(), 0);
    assert.equal(await worker.stop(), 0);
  }
  assert.ok(worker.lines.some((l) => l.includes('worker stopped')));
});
