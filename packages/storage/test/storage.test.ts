import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CuratorError } from '@curator/contracts';
import { embeddedS3Credentials, startEmbeddedS3, type EmbeddedS3 } from '@curator/embedded-s3';
import { createObjectStorage, type ObjectStorage, type ObjectStorageOptions } from '../src/index.ts';

function storageFor(endpoint: string, bucket: string, createBucket = true, more: Partial<ObjectStorageOptions> = {}): ObjectStorage {
  return createObjectStorage({
    endpoint,
    region: 'us-east-1',
    bucket,
    forcePathStyle: true,
    ...embeddedS3Credentials,
    createBucket,
    presignExpiresSeconds: 900,
    retryWindowMs: 0,
    ...more,
  });
}

describe('object storage against the embedded S3 server (it checks SigV4 signatures)', () => {
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

  test('a presigned URL whose signature was tampered with is refused', async () => {
    await storage.ensureBucket();
    await storage.put('cards/signed.jpg', randomBytes(64), 'image/jpeg');
    const url = new URL((await storage.presignGet('cards/signed.jpg', 120)).url);
    const signature = url.searchParams.get('X-Amz-Signature') ?? '';
    assert.match(signature, /^[0-9a-f]{64}$/);
    url.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);

    const refused = await fetch(url);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /SignatureDoesNotMatch/);
    // A longer lifetime than was signed is refused the same way.
    const stretched = new URL((await storage.presignGet('cards/signed.jpg', 120)).url);
    stretched.searchParams.set('X-Amz-Expires', '604800');
    const stretchedResponse = await fetch(stretched);
    assert.equal(stretchedResponse.status, 403);
    await stretchedResponse.body?.cancel();
  });

  test('with a public endpoint, presigned URLs name the public host and are valid there', async () => {
    await storage.ensureBucket();
    const body = randomBytes(512);
    await storage.put('cards/public.jpg', body, 'image/jpeg');
    // Clients reach the same server by another name: `localhost` instead of 127.0.0.1.
    const publicEndpoint = `http://localhost:${s3.port}`;
    const publicStorage = storageFor(s3.endpoint, 'curator-test', true, { publicEndpoint });
    try {
      const signed = new URL((await publicStorage.presignGet('cards/public.jpg', 120)).url);
      assert.equal(signed.host, `localhost:${s3.port}`);
      assert.ok(signed.pathname.endsWith('/curator-test/cards/public.jpg'));
      const response = await fetch(signed);
      assert.equal(response.status, 200);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(body));

      // The signature covers the host: the internal URL asked for under the public name is refused. This is why
      // the URL is signed for the public host rather than rewritten after signing.
      const internal = new URL((await storage.presignGet('cards/public.jpg', 120)).url);
      assert.equal(internal.host, new URL(s3.endpoint).host);
      internal.host = `localhost:${s3.port}`;
      const rewritten = await fetch(internal);
      assert.equal(rewritten.status, 403);
      assert.match(await rewritten.text(), /SignatureDoesNotMatch/);

      // Requests other than presigning still go to the internal endpoint.
      assert.equal(await publicStorage.exists('cards/public.jpg'), true);
    } finally {
      publicStorage.close();
    }
  });

  test('a refusal (4xx) is not retried and its message names no address', async () => {
    await storage.ensureBucket();
    const retries: unknown[] = [];
    const stranger = storageFor(s3.endpoint, 'curator-test', false, {
      accessKeyId: 'NOT-AN-ACCOUNT',
      secretAccessKey: 'nope',
      retryWindowMs: 60_000,
      onRetry: (event) => retries.push(event),
    });
    const noBucket = storageFor(s3.endpoint, 'curator-no-such-bucket', false, { retryWindowMs: 60_000, onRetry: (event) => retries.push(event) });
    try {
      await assert.rejects(stranger.put('a.txt', Buffer.from('x'), 'text/plain'), (error: unknown) => {
        assert.ok(error instanceof CuratorError);
        assert.equal(error.code, 'storage_unavailable');
        assert.equal(error.retryable, false);
        assert.equal(error.message, 'Object storage refused PutObject (HTTP 403 InvalidAccessKeyId)');
        return true;
      });
      await assert.rejects(noBucket.put('a.txt', Buffer.from('x'), 'text/plain'), (error: unknown) => {
        assert.ok(error instanceof CuratorError);
        assert.equal(error.retryable, false);
        assert.equal(error.message, 'Object storage refused PutObject (HTTP 404 NoSuchBucket)');
        return true;
      });
      assert.deepEqual(retries, []);
    } finally {
      stranger.close();
      noBucket.close();
    }
  });
});

