// S3 outages against a real S3 protocol server that is stopped and started again on the same port. The assertions
// are about behaviour (the upload lands, the error says what and hides where, abort ends the wait), never durations.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CuratorError } from '@curator/contracts';
import { embeddedS3Credentials, startEmbeddedS3, type EmbeddedS3 } from '@curator/embedded-s3';
import { createObjectStorage, type ObjectStorage, type ObjectStorageOptions, type StorageRetryEvent } from '../src/index.ts';

const bucket = 'curator-outage';

function socketCode(event: StorageRetryEvent): string | undefined {
  return (event.error as { code?: string }).code;
}

/** No host, address or port of the store, and no raw socket error, may appear in what a job or client sees. */
function assertNamesNoAddress(message: string, s3: EmbeddedS3): void {
  const { hostname, port } = new URL(s3.endpoint);
  for (const leak of [hostname, String(port), 'ECONNREFUSED', 'ECONNRESET', 'localhost']) {
    assert.ok(!message.includes(leak), `"${message}" reveals ${leak}`);
  }
}

describe('object storage through S3 outages', () => {
  let directory: string;
  let s3: EmbeddedS3;
  let port: number;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'curator-storage-outage-'));
    s3 = await startEmbeddedS3({ directory, port: 0, bucket });
    port = s3.port;
  });

  after(async () => {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function restart(): Promise<void> {
    await s3.close();
    s3 = await startEmbeddedS3({ directory, port, bucket });
  }

  function storageWith(more: Partial<ObjectStorageOptions>): ObjectStorage {
    return createObjectStorage({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      bucket,
      forcePathStyle: true,
      ...embeddedS3Credentials,
      createBucket: false,
      presignExpiresSeconds: 60,
      ...more,
    });
  }

  test('an upload cut off by the store going down lands once the store is back on the same port', async () => {
    const body = randomBytes(8 * 1024 * 1024);
    const retries: StorageRetryEvent[] = [];
    let restarted: Promise<void> | undefined;
    const storage = storageWith({
      retryWindowMs: 120_000,
      onRetry: (event) => {
        retries.push(event);
        // Back up only after an attempt found nobody listening: the upload really waited through the outage.
        if (socketCode(event) === 'ECONNREFUSED') restarted ??= restart();
      },
    });
    // The store goes down while the upload's body is on its way.
    s3.httpServer.once('request', (incoming) => {
      if (incoming.method === 'PUT') void s3.close();
    });
    try {
      const stored = await storage.put('images/through-outage.png', body, 'image/png', { seed: '7' });
      await restarted;
      assert.equal(stored.bytes, body.length);
      assert.ok(retries.length >= 2, 'the upload was retried through the outage');
      assert.ok(retries.every((event) => event.operation === 'PutObject' && event.key === 'images/through-outage.png'));
      assert.ok(retries.some((event) => socketCode(event) === 'ECONNREFUSED'), 'an attempt met the stopped store');
      // The bytes held by put() are the ones stored: nothing was produced again.
      assert.ok((await storage.get('images/through-outage.png')).equals(body));
      assert.deepEqual((await storage.head('images/through-outage.png'))?.metadata, { seed: '7' });
    } finally {
      storage.close();
    }
  });

  test('get and exists (the card stage) wait for the store to come back too', async () => {
    const writer = storageWith({ retryWindowMs: 0 });
    const body = randomBytes(1024);
    await writer.put('images/read-through-outage.png', body, 'image/png');
    writer.close();
    let restarted: Promise<void> | undefined;
    const storage = storageWith({ retryWindowMs: 120_000, onRetry: () => void (restarted ??= restart()) });
    try {
      await s3.close();
      assert.equal(await storage.exists('images/read-through-outage.png'), true);
      await restarted;
      restarted = undefined;
      await s3.close();
      assert.ok((await storage.get('images/read-through-outage.png')).equals(body));
      await restarted;
    } finally {
      storage.close();
    }
  });

  test('an outage longer than the window fails with storage_unavailable, retryable, naming no address', async () => {
    const retries: StorageRetryEvent[] = [];
    const storage = storageWith({ retryWindowMs: 1_000, onRetry: (event) => retries.push(event) });
    await s3.close();
    try {
      for (const attempt of [
        () => storage.put('images/never.png', randomBytes(64), 'image/png'),
        () => storage.get('images/never.png'),
        () => storage.exists('images/never.png'),
      ]) {
        retries.length = 0;
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(error instanceof CuratorError);
          assert.equal(error.code, 'storage_unavailable');
          assert.equal(error.retryable, true);
          assert.match(error.message, /^Object storage did not answer for 1 s \((PutObject|GetObject|HeadObject): connection refused\)$/);
          assertNamesNoAddress(error.message, s3);
          assertNamesNoAddress(JSON.stringify(error.toBody()), s3);
          // The full cause stays on the error for the worker's log.
          assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED');
          return true;
        });
        assert.ok(retries.length >= 1, 'it retried before giving up');
      }
      // Readiness probes get one attempt, with the same kind of message.
      await assert.rejects(storage.ping(), (error: unknown) => {
        assert.ok(error instanceof CuratorError);
        assert.equal(error.message, 'Object storage did not answer (HeadBucket: connection refused)');
        return true;
      });
    } finally {
      storage.close();
      await restart();
    }
  });

  test('an abort signal ends the wait with its reason (job canceled, worker stopping)', async () => {
    const controller = new AbortController();
    const reason = new CuratorError('canceled', 'Job canceled by the client');
    const storage = storageWith({ retryWindowMs: 600_000, onRetry: () => controller.abort(reason) });
    await s3.close();
    try {
      await assert.rejects(storage.put('images/aborted.png', randomBytes(64), 'image/png', undefined, { signal: controller.signal }), (error: unknown) => {
        assert.equal(error, reason);
        return true;
      });
      // Without a reason of its own, an abort is `canceled`.
      const bare = new AbortController();
      const other = storageWith({ retryWindowMs: 600_000, onRetry: () => bare.abort() });
      await assert.rejects(other.get('images/aborted.png', { signal: bare.signal }), (error: unknown) => {
        assert.ok(error instanceof CuratorError);
        assert.equal(error.code, 'canceled');
        return true;
      });
      other.close();
      // An already aborted signal makes no request at all.
      const retries: StorageRetryEvent[] = [];
      const quiet = storageWith({ onRetry: (event) => retries.push(event) });
      await assert.rejects(quiet.exists('images/aborted.png', { signal: AbortSignal.abort(reason) }), (error: unknown) => error === reason);
      assert.deepEqual(retries, []);
      quiet.close();
    } finally {
      storage.close();
      await restart();
    }
  });
});

/**
 * A throttling, failing front for the real store: the first answers are S3 errors (503 SlowDown, 500), then
 * requests pass through unchanged (the Host header too, so signatures stay valid).
 */
async function flakyFront(target: string, failures: Array<{ status: number; code: string }>): Promise<{ endpoint: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const failure = failures.shift();
    if (failure) {
      seen.push(failure.code);
      incoming.resume();
      outgoing.writeHead(failure.status, { 'content-type': 'application/xml' });
      outgoing.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${failure.code}</Code><Message>internal detail at 10.1.2.3:8333</Message></Error>`);
      return;
    }
    seen.push('passed');
    const upstream = request(`${target}${incoming.url}`, { method: incoming.method, headers: incoming.headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

test('5xx and SlowDown answers are retried; their messages are never repeated', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'curator-storage-flaky-'));
  const s3 = await startEmbeddedS3({ directory, port: 0, bucket });
  const front = await flakyFront(s3.endpoint, [
    { status: 503, code: 'SlowDown' },
    { status: 500, code: 'InternalError' },
  ]);
  const options = { region: 'us-east-1', bucket, forcePathStyle: true, ...embeddedS3Credentials, createBucket: false, presignExpiresSeconds: 60 };
  const storage = createObjectStorage({ ...options, endpoint: front.endpoint, retryWindowMs: 60_000 });
  try {
    const body = randomBytes(2048);
    await storage.put('images/throttled.png', body, 'image/png');
    assert.deepEqual(front.seen, ['SlowDown', 'InternalError', 'passed']);
    assert.ok((await storage.get('images/throttled.png')).equals(body));

    const throttled = await flakyFront(s3.endpoint, [{ status: 503, code: 'SlowDown' }]);
    const once = createObjectStorage({ ...options, endpoint: throttled.endpoint, retryWindowMs: 0 });
    await assert.rejects(once.put('images/once.png', body, 'image/png'), (error: unknown) => {
      assert.ok(error instanceof CuratorError);
      assert.equal(error.retryable, true);
      assert.equal(error.message, 'Object storage did not answer (PutObject: HTTP 503 SlowDown)');
      return true;
    });
    once.close();
    await throttled.close();
  } finally {
    storage.close();
    await front.close();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
});
