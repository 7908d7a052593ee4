import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CuratorError } from '@curator/contracts';
import { embeddedS3Credentials, startEmbeddedS3, type EmbeddedS3 } from '@curator/embedded-s3';
import { GetUrlSigner } from '../src/sigv4.ts';
import { createObjectStorage, presignResult, type ObjectStorage, type ObjectStorageOptions } from '../src/index.ts';
import type { StoredJobView } from '@curator/contracts';

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

  test('processes starting together all get the bucket: one creates it, the others find it made (whatever the store answers them)', async () => {
    const starting = Array.from({ length: 6 }, () => storageFor(s3.endpoint, 'curator-created-together'));
    try {
      await Promise.all(starting.map((each) => each.ensureBucket()));
      await Promise.all(starting.map((each) => each.ping()));
    } finally {
      for (const each of starting) each.close();
    }
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

  test('a presigned URL of a key with spaces, unicode and reserved characters serves its bytes', async () => {
    await storage.ensureBucket();
    const body = randomBytes(256);
    const key = "cards/a b/ü (1)*!'+=.jpg";
    await storage.put(key, body, 'image/jpeg');
    const response = await fetch((await storage.presignGet(key, 120)).url);
    assert.equal(response.status, 200);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(body));
  });

  test("presignResult gives every stored object of a result a URL that serves it, and leaves the stored view as it was", async () => {
    await storage.ensureBucket();
    const [picture, card] = [randomBytes(300), randomBytes(200)];
    await storage.put('jobs/r/image.png', picture, 'image/png');
    await storage.put('jobs/r/card.jpg', card, 'image/jpeg');
    const stored = {
      type: 'curate',
      result: { image: { image: { key: 'jobs/r/image.png', contentType: 'image/png', bytes: 300, seed: 7 }, card: { key: 'jobs/r/card.jpg', contentType: 'image/jpeg', bytes: 200 }, generation: { steps: 2 } }, tags: ['a', { n: 1 }] },
    } as unknown as StoredJobView;
    const before = structuredClone(stored);
    const view = (await presignResult(stored, storage)) as unknown as { result: { image: { url: string; cardUrl: string; image: { url: string; expiresAt: string; seed: number }; card: { url: string } }; tags: unknown } };
    assert.deepEqual(stored, before, 'the stored view keeps keys only');
    assert.equal(view.result.image.url, view.result.image.image.url);
    assert.equal(view.result.image.cardUrl, view.result.image.card.url);
    assert.equal(view.result.image.image.seed, 7);
    assert.ok(Date.parse(view.result.image.image.expiresAt) > Date.now());
    assert.deepEqual(view.result.tags, ['a', { n: 1 }]);
    for (const [url, body] of [[view.result.image.url, picture], [view.result.image.cardUrl, card]] as const) {
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.ok(Buffer.from(await response.arrayBuffer()).equals(body));
    }
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


describe('presigned URLs are the AWS SDK getSignedUrl ones, byte for byte', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const cases: Array<{ name: string; options: Partial<ObjectStorageOptions> & { bucket: string; forcePathStyle: boolean } }> = [
    { name: 'path-style, endpoint with a port', options: { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, bucket: 'curator' } },
    { name: 'virtual-hosted, custom endpoint', options: { endpoint: 'http://localhost:9000', forcePathStyle: false, bucket: 'curator' } },
    { name: 'virtual-hosted asked, IP endpoint (the rules fall back to path-style)', options: { endpoint: 'http://127.0.0.1:9000', forcePathStyle: false, bucket: 'curator' } },
    { name: 'AWS S3 itself, another region', options: { forcePathStyle: false, bucket: 'curator', region: 'eu-west-3' } },
    { name: 'AWS S3 itself, a bucket with dots (path-style)', options: { forcePathStyle: false, bucket: 'my.curator.bucket' } },
    { name: 'endpoint with a base path, https', options: { endpoint: 'https://s3.example.com/base', forcePathStyle: true, bucket: 'curator' } },
    { name: 'public endpoint apart from the internal one', options: { endpoint: 'http://minio:9000', publicEndpoint: 'https://files.example.com', forcePathStyle: false, bucket: 'curator' } },
  ];
  const keys = ['jobs/0d3c/image.png', "cards/a b/ü (1)*!'+=~.jpg", 'x', 'a//b/./c/../d?e#f%20'];
  for (const { name, options } of cases) {
    test(name, async () => {
      const full: ObjectStorageOptions = { region: 'us-east-1', ...credentials, createBucket: false, presignExpiresSeconds: 900, ...options };
      const storage = createObjectStorage(full);
      // The client the storage used to presign with (its checksum settings: no x-amz-checksum-mode on a GET).
      const reference = new S3Client({ region: full.region, forcePathStyle: full.forcePathStyle, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED', ...((full.publicEndpoint ?? full.endpoint) ? { endpoint: full.publicEndpoint ?? full.endpoint } : {}) });
      try {
        for (const key of keys) {
          for (const expiresIn of [60, 900]) {
            const ours = await storage.presignGet(key, expiresIn);
            // Signed at the time our URL names (to the second), the SDK's URL must be the same string.
            const amzDate = new URL(ours.url).searchParams.get('X-Amz-Date')!;
            const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
            const theirs = await getSignedUrl(reference, new GetObjectCommand({ Bucket: full.bucket, Key: key }), { expiresIn, signingDate });
            assert.equal(ours.url, theirs, `${key}, ${expiresIn} s`);
            assert.ok(Math.abs(Date.parse(ours.expiresAt) - (signingDate.getTime() + expiresIn * 1000)) < 1000);
          }
        }
      } finally {
        storage.close();
        reference.destroy();
      }
    });
  }

  test('temporary credentials: the session token is signed into the URL as the SDK signs it', async () => {
    const temporary = { ...credentials, sessionToken: 'FwoGZXIvYXdzEBYaD+/session=token' };
    const signer = new GetUrlSigner({ protocol: 'https:', host: 'curator.s3.eu-west-3.amazonaws.com', basePath: '', region: 'eu-west-3', service: 's3' });
    const reference = new S3Client({ region: 'eu-west-3', credentials: temporary, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    try {
      const signingDate = new Date('2026-12-03T23:59:59Z');
      const ours = signer.sign('jobs/1/image.png', 900, signingDate, temporary);
      assert.match(ours, /X-Amz-Security-Token=/);
      assert.equal(ours, await getSignedUrl(reference, new GetObjectCommand({ Bucket: 'curator', Key: 'jobs/1/image.png' }), { expiresIn: 900, signingDate }));
      // The next day's key is another one: a URL signed after midnight is the SDK's too.
      const nextDay = new Date('2026-12-04T00:00:01Z');
      assert.equal(signer.sign('jobs/1/image.png', 900, nextDay, temporary), await getSignedUrl(reference, new GetObjectCommand({ Bucket: 'curator', Key: 'jobs/1/image.png' }), { expiresIn: 900, signingDate: nextDay }));
    } finally {
      reference.destroy();
    }
  });

  test('a lifetime over a week is refused, as S3 would refuse the URL', async () => {
    const storage = createObjectStorage({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', bucket: 'curator', forcePathStyle: true, ...credentials, createBucket: false, presignExpiresSeconds: 900 });
    try {
      await assert.rejects(storage.presignGet('a.png', 8 * 24 * 3600), (error: unknown) => error instanceof CuratorError);
    } finally {
      storage.close();
    }
  });
});
