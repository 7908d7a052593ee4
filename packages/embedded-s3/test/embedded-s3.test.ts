import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { embeddedS3Credentials, startEmbeddedS3 } from '../src/index.ts';

test('the embedded server creates its bucket, keeps it across a restart on the same port, and close() drops open connections', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'curator-embedded-s3-'));
  let s3 = await startEmbeddedS3({ directory, port: 0, bucket: 'curator-embedded' });
  try {
    const listing = await fetch(`${s3.endpoint}/curator-embedded`);
    assert.equal(listing.status, 200);
    assert.match(await listing.text(), /<Name>curator-embedded<\/Name>/);

    // A keep-alive connection left open must not hold close() up.
    const agentResponse = await new Promise<number>((resolve, reject) => {
      request(`${s3.endpoint}/curator-embedded`, { headers: { connection: 'keep-alive' } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(agentResponse, 200);
    const { port } = s3;
    await s3.close();
    await assert.rejects(fetch(`${s3.endpoint}/curator-embedded`));

    s3 = await startEmbeddedS3({ directory, port });
    assert.equal(s3.port, port);
    const again = await fetch(`${s3.endpoint}/curator-embedded`);
    assert.equal(again.status, 200, 'the bucket on disk is served again after the restart');
    await again.body?.cancel();
    const missing = await fetch(`${s3.endpoint}/no-such-bucket`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /NoSuchBucket/);
  } finally {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
});

test('signatures are checked: bucket and object requests signed with a wrong secret are refused', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'curator-embedded-s3-'));
  const s3 = await startEmbeddedS3({ directory, port: 0 });
  const clientWith = (secretAccessKey: string) =>
    new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: embeddedS3Credentials.accessKeyId, secretAccessKey } });
  const good = clientWith(embeddedS3Credentials.secretAccessKey);
  const forged = clientWith('not-the-secret');
  const refusedForSignature = (error: unknown) => {
    assert.equal((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 403);
    return true;
  };
  try {
    await assert.rejects(forged.send(new CreateBucketCommand({ Bucket: 'curator-signed' })), refusedForSignature);
    await good.send(new CreateBucketCommand({ Bucket: 'curator-signed' }));
    await assert.rejects(forged.send(new HeadBucketCommand({ Bucket: 'curator-signed' })), refusedForSignature);
    await good.send(new HeadBucketCommand({ Bucket: 'curator-signed' }));
    await assert.rejects(forged.send(new PutObjectCommand({ Bucket: 'curator-signed', Key: 'k', Body: 'x' })), (error: unknown) => {
      assert.equal((error as Error).name, 'SignatureDoesNotMatch');
      return true;
    });
    await good.send(new PutObjectCommand({ Bucket: 'curator-signed', Key: 'k', Body: 'x' }));
  } finally {
    good.destroy();
    forged.destroy();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  }
});
