import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CuratorError } from '@curator/contracts';
import { createObjectStorage, embeddedS3Credentials, startEmbeddedS3, type EmbeddedS3, type ObjectStorage } from '../src/index.ts';

function storageFor(endpoint: string, bucket: string, createBucket = true): ObjectStorage {
  return createObjectStorage({
    endpoint,
    region: 'us-east-1',
    bucket,
    forcePathStyle: true,
    ...embeddedS3Credentials,
    createBucket,
    presignExpiresSeconds: 900,
  });
}

describe('object storage against an in-process s3rver', () => {
  let directory: string;
  let s3: EmbeddedS3;
  let storage: ObjectStorage;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'curator-storage-'));
    s3 = await startEmbeddedS3({ directory, port: 0 });
    storage = storageFor(s3.endpoint, 'curator-test');
  });

  after(async () => {
    storage.close();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  test('ensureBucket creates a missing bucket and is idempotent', async () => {
    await assert.rejects(storage.ping(), (error: unknown) => error instanceof CuratorError && error.code === 'storage_unavailable');
    await storage.ensureBucket();
    await storage.ensureBucket();
    await storage.ping();
  });

  test('ensureBucket refuses to create when creation is off', async () => {
    const strict = storageFor(s3.endpoint, 'curator-never-created', false);
    try {
      await assert.rejects(strict.ensureBucket(), (error: unknown) => error instanceof CuratorError && error.code === 'storage_unavailable');
    } finally {
      strict.close();
    }
  });

  test('put, get and head round-trip binary data with content type and metadata', async () => {
    await storage.ensureBucket();
    const body = randomBytes(4096);
    const stored = await storage.put('images/round-trip.png', body, 'image/png', { seed: '42', model: 'test-sd' });
    assert.equal(stored.key, 'images/round-trip.png');
    assert.equal(stored.bytes, 4096);
    assert.match(stored.etag, /^[0-9a-f]{32}$/);

    const fetched = await storage.get('images/round-trip.png');
    assert.ok(fetched.equals(body), 'bytes read back differ from bytes written');

    const head = await storage.head('images/round-trip.png');
    assert.deepEqual(head, { bytes: 4096, contentType: 'image/png', metadata: { seed: '42', model: 'test-sd' } });
    assert.equal(await storage.exists('images/round-trip.png'), true);

    await storage.delete('images/round-trip.png');
    assert.equal(await storage.exists('images/round-trip.png'), false);
    assert.equal(await storage.head('images/round-trip.png'), null);
  });

  test('get of a missing key is not_found', async () => {
    await storage.ensureBucket();
    await assert.rejects(storage.get('no/such/key.png'), (error: unknown) => {
      assert.ok(error instanceof CuratorError);
      assert.equal(error.code, 'not_found');
      assert.equal(error.retryable, false);
      return true;
    });
  });

  test('a presigned URL serves the bytes to a plain fetch()', async () => {
    await storage.ensureBucket();
    const body = randomBytes(2048);
    await storage.put('cards/presigned.jpg', body, 'image/jpeg');

    const before = Date.now();
    const first = await storage.presignGet('cards/presigned.jpg', 120);
    const url = new URL(first.url);
    // s3rver does not verify SigV4 signatures: this checks what we ask for, not that S3 would accept it.
    assert.equal(url.searchParams.get('X-Amz-Expires'), '120');
    assert.equal(url.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
    assert.ok(url.pathname.endsWith('/curator-test/cards/presigned.jpg'));
    const expiresAt = Date.parse(first.expiresAt);
    assert.ok(expiresAt >= before + 120_000 && expiresAt <= Date.now() + 120_000);

    const response = await fetch(first.url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/jpeg');
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(body));

    const defaulted = await storage.presignGet('cards/presigned.jpg');
    assert.equal(new URL(defaulted.url).searchParams.get('X-Amz-Expires'), '900');
  });
});

test('storage that is down is storage_unavailable and retryable', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'curator-storage-down-'));
  const s3 = await startEmbeddedS3({ directory, port: 0, bucket: 'curator-down' });
  const storage = createObjectStorage({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    bucket: 'curator-down',
    forcePathStyle: true,
    ...embeddedS3Credentials,
    createBucket: false,
    presignExpiresSeconds: 60,
    maxAttempts: 1,
  });
  try {
    await storage.ping();
    await s3.close();
    const attempts = [() => storage.put('a.txt', Buffer.from('x'), 'text/plain'), () => storage.get('a.txt'), () => storage.ping()];
    for (const attempt of attempts) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof CuratorError);
        assert.equal(error.code, 'storage_unavailable');
        assert.equal(error.retryable, true);
        return true;
      });
    }
  } finally {
    storage.close();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
});
