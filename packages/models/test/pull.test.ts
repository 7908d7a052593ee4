import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { isCuratorError } from '@curator/contracts';
import { checkModels, listModels, parseManifest, pullModels, resolveAvailableModel, resolveModel, type Manifest, type ModelEntryInput, type PullEvent } from '@curator/models';
import { FakeHub } from './hub-server.ts';

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

// Small synthetic files with the summarizer's real layout.
const config = Buffer.from(JSON.stringify({ model_type: 't5', d_model: 8 }));
const tokenizer = Buffer.from(JSON.stringify({ model: { type: 'Unigram', vocab: [['<pad>', 0]] } }));
const encoder = randomBytes(48 * 1024);
const decoder = randomBytes(40 * 1024);
const encoderFp16 = randomBytes(24 * 1024);
const repo = 'acme/tiny-t5';
const revision = 'v1';

function manifestWith(overrides: Partial<Record<string, { sha256?: string; size?: number }>> = {}): Manifest {
  const f = (path: string, bytes: Buffer, key?: string) => ({ path, ...(key ? { key } : {}), sha256: sha(bytes), size: bytes.length, ...overrides[path] });
  const entry: ModelEntryInput = {
    role: 'summarizer',
    id: repo,
    revision,
    source: { kind: 'hub', repo },
    shared: [f('config.json', config, 'config'), f('tokenizer.json', tokenizer, 'tokenizer')],
    precisions: {
      fp32: [f('onnx/encoder_model.onnx', encoder, 'encoder'), f('onnx/decoder_model_merged.onnx', decoder, 'decoder')],
      fp16: [f('onnx/encoder_model_fp16.onnx', encoderFp16, 'encoder'), f('onnx/decoder_model_merged.onnx', decoder, 'decoder')],
    },
  };
  return parseManifest({ set: 'real', models: [entry] });
}

function publish(hub: FakeHub) {
  hub.put(repo, revision, 'config.json', config);
  hub.put(repo, revision, 'tokenizer.json', tokenizer);
  hub.put(repo, revision, 'onnx/encoder_model.onnx', encoder, { linked: true });
  hub.put(repo, revision, 'onnx/decoder_model_merged.onnx', decoder, { linked: true });
  hub.put(repo, revision, 'onnx/encoder_model_fp16.onnx', encoderFp16, { linked: true });
}

async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
  } catch {
    return [];
  }
}

describe('pullModels from a Hub-like server', () => {
  let hub: FakeHub;
  let modelsDir: string;
  let manifest: Manifest;

  before(async () => {
    hub = await new FakeHub().start();
    publish(hub);
  });
  after(() => hub.stop());
  beforeEach(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'curator-models-'));
    manifest = manifestWith();
    hub.requests.length = 0;
  });

  it('pulls a model, following the redirect, and never shows a partial model folder', async () => {
    const dir = resolveModel('summarizer', { modelsDir, manifest }).dir;
    const seenBeforeDone: boolean[] = [];
    const events: PullEvent[] = [];
    const result = await pullModels({
      modelsDir,
      manifest,
      roles: ['summarizer'],
      hfEndpoint: hub.url,
      hfToken: 'secret-token',
      onProgress: (event) => {
        events.push(event);
        if (event.type !== 'model-done') seenBeforeDone.push(existsSync(dir));
      },
    });
    assert.deepEqual(result.pulled.map((p) => p.id), [repo]);
    assert.ok(seenBeforeDone.length > 4 && seenBeforeDone.every((seen) => !seen), 'the model folder appeared before every file was whole');
    assert.deepEqual(await readFile(join(dir, 'onnx/encoder_model.onnx')), encoder);
    assert.deepEqual(await readFile(join(dir, 'onnx/decoder_model_merged.onnx')), decoder);
    assert.deepEqual(await readFile(join(dir, 'config.json')), config);
    assert.ok(events.some((e) => e.type === 'file-progress'));
    assert.deepEqual(await filesUnder(join(modelsDir, '.staging')), [], 'staging is left empty');

    // The token goes to the Hub host only, never to the host it redirects to.
    assert.ok(hub.hubRequests().length > 0 && hub.hubRequests().every((r) => r.authorization === 'Bearer secret-token'));
    assert.ok(hub.cdnRequests().length > 0 && hub.cdnRequests().every((r) => r.authorization === undefined));
  });

  it('a second pull with everything present downloads nothing and says so', async () => {
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    const before = hub.requests.length;
    const events: PullEvent[] = [];
    const result = await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url, onProgress: (e) => events.push(e) });
    assert.equal(hub.requests.length, before);
    assert.deepEqual(result.pulled, []);
    assert.deepEqual(result.skipped.map((s) => s.id), [repo]);
    assert.deepEqual(events.map((e) => e.type), ['model-skip']);
  });

  it('resumes a download cut off mid-file with a Range request and ends byte-identical', async () => {
    hub.cutAfter.set(`${repo}/${revision}/onnx/encoder_model.onnx`, 20_000);
    const events: PullEvent[] = [];
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url, concurrency: 1, onProgress: (e) => events.push(e) });
    const encoderRequests = hub.cdnRequests().filter((r) => r.path.includes('encoder_model.onnx'));
    assert.equal(encoderRequests.length, 2);
    assert.equal(encoderRequests[0]!.range, undefined);
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(encoderRequests[1]!.range ?? '')?.[1]);
    assert.ok(resumedFrom > 0 && resumedFrom <= 20_000, `resumed from ${encoderRequests[1]!.range}`);
    assert.ok(encoderRequests[1]!.ifRange?.startsWith('"'), 'the resume carries If-Range with the ETag');
    assert.ok(events.some((e) => e.type === 'file-retry'));
    const dir = resolveModel('summarizer', { modelsDir, manifest }).dir;
    assert.deepEqual(await readFile(join(dir, 'onnx/encoder_model.onnx')), encoder);
  });

  it('keeps the partial file across runs: a later pull resumes where a failed one stopped', async () => {
    hub.cutAfter.set(`${repo}/${revision}/onnx/decoder_model_merged.onnx`, 10_000);
    const dir = resolveModel('summarizer', { modelsDir, manifest }).dir;
    await assert.rejects(pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url, retries: 0 }), (error) => isCuratorError(error) && error.code === 'download_failed' && error.retryable);
    assert.equal(existsSync(dir), false, 'a failed pull leaves no model folder');
    const staged = await filesUnder(join(modelsDir, '.staging'));
    assert.ok(staged.includes(join('acme--tiny-t5', 'onnx', 'decoder_model_merged.onnx.partial')), staged.join(', '));

    hub.requests.length = 0;
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url, retries: 0 });
    const decoderRequests = hub.cdnRequests().filter((r) => r.path.includes('decoder_model_merged.onnx'));
    assert.equal(decoderRequests.length, 1);
    assert.match(decoderRequests[0]!.range ?? '', /^bytes=[1-9]\d*-$/);
    // Files finished by the failed run are not fetched again.
    assert.equal(hub.requestsFor('config.json').length, 0);
    assert.deepEqual(await readFile(join(dir, 'onnx/decoder_model_merged.onnx')), decoder);
  });

  it('starts over when the remote file changed since the partial download (If-Range)', async () => {
    const changingRepo = 'acme/changing';
    const old = randomBytes(30 * 1024);
    const fresh = randomBytes(32 * 1024);
    hub.put(changingRepo, 'main', 'model.onnx', old);
    hub.cutAfter.set(`${changingRepo}/main/model.onnx`, 8_000);
    const changing = parseManifest({ set: 'real', models: [{ role: 'genre', id: changingRepo, revision: 'main', source: { kind: 'hub', repo: changingRepo }, precisions: { fp32: [{ path: 'model.onnx' }] } }] });
    await assert.rejects(pullModels({ modelsDir, manifest: changing, roles: ['genre'], hfEndpoint: hub.url, retries: 0 }));
    hub.put(changingRepo, 'main', 'model.onnx', fresh);
    const events: PullEvent[] = [];
    await pullModels({ modelsDir, manifest: changing, roles: ['genre'], hfEndpoint: hub.url, onProgress: (e) => events.push(e) });
    assert.ok(events.some((e) => e.type === 'file-restart'));
    assert.deepEqual(await readFile(join(resolveModel('genre', { modelsDir, manifest: changing }).dir, 'model.onnx')), fresh);
  });

  it('refuses a file whose sha256 differs, removes it, and shows nothing in MODELS_DIR/<id>', async () => {
    const wrong = manifestWith({ 'onnx/decoder_model_merged.onnx': { sha256: sha(Buffer.from('something else')) } });
    const dir = resolveModel('summarizer', { modelsDir, manifest: wrong }).dir;
    await assert.rejects(pullModels({ modelsDir, manifest: wrong, roles: ['summarizer'], hfEndpoint: hub.url }), (error) => {
      assert.ok(isCuratorError(error));
      assert.equal(error.code, 'checksum_mismatch');
      assert.match(error.message, /decoder_model_merged\.onnx/);
      return true;
    });
    assert.equal(existsSync(dir), false);
    const staged = await filesUnder(join(modelsDir, '.staging'));
    assert.ok(!staged.some((path) => path.includes('decoder_model_merged')), `the bad file is gone: ${staged.join(', ')}`);
  });

  it("checks files against the Hub's X-Linked-Etag when the manifest records no sha256", async () => {
    const single = (id: string) => parseManifest({ set: 'real', models: [{ role: 'genre', id, revision: 'main', source: { kind: 'hub', repo: id }, precisions: { fp32: [{ path: 'model.onnx' }] } }] });
    const doneEvent = async (id: string) => {
      const events: PullEvent[] = [];
      await pullModels({ modelsDir, manifest: single(id), roles: ['genre'], hfEndpoint: hub.url, onProgress: (e) => events.push(e) });
      const done = events.find((e) => e.type === 'file-done');
      assert.ok(done?.type === 'file-done');
      return done;
    };
    hub.put('acme/unlinked', 'main', 'model.onnx', randomBytes(4096));
    assert.equal((await doneEvent('acme/unlinked')).checked, false, 'nothing to check against');
    hub.put('acme/linked', 'main', 'model.onnx', randomBytes(4096), { linked: true });
    assert.equal((await doneEvent('acme/linked')).checked, true);

    hub.put('acme/corrupt', 'main', 'model.onnx', randomBytes(4096), { linked: true });
    hub.linkedOverride.set('acme/corrupt/main/model.onnx', sha(Buffer.from('the bytes the Hub meant')));
    await assert.rejects(doneEvent('acme/corrupt'), (error) => isCuratorError(error) && error.code === 'checksum_mismatch');
    assert.equal(existsSync(join(modelsDir, 'acme', 'corrupt')), false);
  });

  it('adds a second precision without losing the first, and list shows both verified', async () => {
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    hub.requests.length = 0;
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], precision: 'fp16', hfEndpoint: hub.url });
    assert.deepEqual(
      hub.cdnRequests().map((r) => r.path),
      [`/cdn/${encodeURIComponent(`${repo}/${revision}/onnx/encoder_model_fp16.onnx`)}`],
      'only the missing fp16 file is fetched',
    );
    const rows = await listModels({ modelsDir, manifest, roles: ['summarizer'] });
    assert.deepEqual(rows.map((r) => [r.precision, r.status]), [['fp32', 'verified'], ['fp16', 'verified']]);
    assert.equal(rows[0]!.sizeBytes, config.length + tokenizer.length + encoder.length + decoder.length);
  });

  it('resolveAvailableModel settles on a precision that is on disk', async () => {
    assert.equal(await resolveAvailableModel('summarizer', { modelsDir, manifest, precision: 'fp16' }), undefined);
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    assert.equal((await resolveAvailableModel('summarizer', { modelsDir, manifest, precision: 'fp16' }))?.precision, 'fp32');
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], precision: 'fp16', hfEndpoint: hub.url });
    const fp16 = await resolveAvailableModel('summarizer', { modelsDir, manifest, precision: 'fp16' });
    assert.equal(fp16?.precision, 'fp16');
    assert.ok(fp16?.paths['encoder']?.endsWith('encoder_model_fp16.onnx'));
  });

  it('list notices a changed file and, with verify, finds the mismatch', async () => {
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    const model = resolveModel('summarizer', { modelsDir, manifest });
    await appendFile(model.paths['decoder']!, 'x');
    const cheap = await listModels({ modelsDir, manifest, roles: ['summarizer'] });
    assert.equal(cheap[0]!.status, 'unchecked');
    const verified = await listModels({ modelsDir, manifest, roles: ['summarizer'], verify: true });
    assert.equal(verified[0]!.status, 'mismatch');
    assert.deepEqual(verified[0]!.mismatchedFiles, ['onnx/decoder_model_merged.onnx']);
    // A changed file is no longer "present" to the puller either: pulling repairs it.
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    assert.deepEqual(await readFile(model.paths['decoder']!), decoder);
    assert.equal((await listModels({ modelsDir, manifest, roles: ['summarizer'] }))[0]!.status, 'verified');
  });

  it('checkModels names the missing files', async () => {
    const before = await checkModels({ modelsDir, manifest, roles: ['summarizer'] });
    assert.deepEqual(before.present, []);
    assert.equal(before.missing[0]!.id, repo);
    assert.ok(before.missing[0]!.files.includes('onnx/encoder_model.onnx'));
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    const afterPull = await checkModels({ modelsDir, manifest, roles: ['summarizer'] });
    assert.deepEqual(afterPull.present.map((m) => m.id), [repo]);
    assert.deepEqual(afterPull.missing, []);
  });

  it('re-fetches whole a file whose partial already held every byte (the server answers 416)', async () => {
    const staged = join(modelsDir, '.staging', 'acme--tiny-t5');
    await mkdir(staged, { recursive: true });
    await writeFile(join(staged, 'config.json.partial'), config);
    // config.json is kept in git: the Hub's ETag for it is its git blob sha1.
    const gitEtag = `"${createHash('sha1').update(`blob ${config.length}\0`).update(config).digest('hex')}"`;
    await writeFile(join(staged, 'config.json.partial.json'), JSON.stringify({ validator: gitEtag }));
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    const configRequests = hub.requestsFor('config.json');
    assert.deepEqual(configRequests.map((r) => r.range), [`bytes=${config.length}-`, undefined]);
    assert.deepEqual(await readFile(resolveModel('summarizer', { modelsDir, manifest }).paths['config']!), config);
  });

  it('takes files put in place by hand when they match the recorded sha256, and downloads nothing', async () => {
    const model = resolveModel('summarizer', { modelsDir, manifest });
    await mkdir(join(model.dir, 'onnx'), { recursive: true });
    for (const [key, bytes] of [['config', config], ['tokenizer', tokenizer], ['encoder', encoder], ['decoder', decoder]] as const) await writeFile(model.paths[key]!, bytes);
    const result = await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    assert.deepEqual(result.skipped.map((s) => s.id), [repo]);
    assert.equal(hub.requests.length, 0);
    // What the pull hashed is remembered: list needs no --verify to call it verified.
    assert.equal((await listModels({ modelsDir, manifest, roles: ['summarizer'] }))[0]!.status, 'verified');
  });

  it('a model Curator converts: its checkpoint comes from the Hub, or with exportsFrom its converted files from there', async () => {
    const exportsDir = await mkdtemp(join(tmpdir(), 'curator-exports-'));
    const genreConfig = Buffer.from('{"model_type":"bert"}');
    const genreOnnx = randomBytes(2048);
    const genreWeights = randomBytes(4096);
    await mkdir(join(exportsDir, 'acme', 'genre'), { recursive: true });
    await writeFile(join(exportsDir, 'acme', 'genre', 'config.json'), genreConfig);
    await writeFile(join(exportsDir, 'acme', 'genre', 'model.onnx'), genreOnnx);
    hub.put('acme/genre', 'v1', 'config.json', genreConfig);
    hub.put('acme/genre', 'v1', 'pytorch_model.bin', genreWeights, { linked: true });
    const genre: ModelEntryInput = {
      role: 'genre',
      id: 'acme/genre',
      revision: 'v1',
      source: { kind: 'hub', repo: 'acme/genre' },
      shared: [{ path: 'config.json', key: 'config', sha256: sha(genreConfig), size: genreConfig.length }],
      weights: [{ path: 'pytorch_model.bin', key: 'weights' }],
      conversion: { builder: 'encoder-classifier' },
      precisions: { fp32: [{ path: 'model.onnx', key: 'model' }], fp16: [{ path: 'model_fp16.onnx', key: 'model' }] },
    };
    const mixed = parseManifest({ set: 'real', models: [...manifest.models, genre] });

    const fromHub = await pullModels({ modelsDir, manifest: mixed, roles: ['genre'], hfEndpoint: hub.url });
    assert.deepEqual(fromHub.pulled[0]?.files.sort(), ['config.json', 'pytorch_model.bin']);
    assert.deepEqual(await readFile(join(modelsDir, 'acme', 'genre', 'pytorch_model.bin')), genreWeights);
    assert.equal(existsSync(join(modelsDir, 'acme', 'genre', 'model.onnx')), false, 'the Hub has checkpoints; the conversion makes model.onnx');

    const other = await mkdtemp(join(tmpdir(), 'curator-models-'));
    hub.requests.length = 0;
    const result = await pullModels({ modelsDir: other, manifest: mixed, roles: ['summarizer', 'genre'], hfEndpoint: hub.url, exportsFrom: exportsDir });
    assert.deepEqual(result.pulled.map((p) => p.id).sort(), ['acme/genre', repo]);
    assert.deepEqual(await readFile(join(other, 'acme', 'genre', 'model.onnx')), genreOnnx);
    assert.equal(existsSync(join(other, 'acme', 'genre', 'pytorch_model.bin')), false, 'converted files need no checkpoint');
    assert.ok(hub.hubRequests().every((r) => !r.path.startsWith('/acme/genre/')), 'nothing of the converted model came from the Hub');
    await rm(exportsDir, { recursive: true, force: true });
    await rm(other, { recursive: true, force: true });
  });

  it('refuses to pull a model another live process is pulling, and takes over a dead one\'s lock', async () => {
    await mkdir(join(modelsDir, '.staging'), { recursive: true });
    const lock = join(modelsDir, '.staging', 'acme--tiny-t5.lock');
    await writeFile(lock, String(process.pid));
    await assert.rejects(pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url }), (error) => isCuratorError(error) && error.code === 'conflict');
    await writeFile(lock, '999999999');
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    assert.equal(existsSync(lock), false);
  });

  it('copies from a local folder laid out like MODELS_DIR', async () => {
    const source = await mkdtemp(join(tmpdir(), 'curator-models-src-'));
    const files: [string, Buffer][] = [['config.json', config], ['tokenizer.json', tokenizer], ['onnx/encoder_model.onnx', encoder], ['onnx/decoder_model_merged.onnx', decoder]];
    for (const [path, bytes] of files) {
      await mkdir(join(source, repo, 'onnx'), { recursive: true });
      await writeFile(join(source, repo, path), bytes);
    }
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], from: source });
    assert.deepEqual(await readFile(resolveModel('summarizer', { modelsDir, manifest }).paths['encoder']!), encoder);
    assert.equal((await listModels({ modelsDir, manifest, roles: ['summarizer'] }))[0]!.status, 'verified');
    await rm(source, { recursive: true, force: true });
  });

  it('files kept in git come straight from the Hub with their git ETag; LFS files through the CDN; HEAD works too', async () => {
    await pullModels({ modelsDir, manifest, roles: ['summarizer'], hfEndpoint: hub.url });
    assert.deepEqual(hub.requestsFor('config.json').map((r) => r.path), [`/${repo}/resolve/${revision}/config.json`], 'no redirect for a small file');
    assert.equal(hub.cdnRequests().filter((r) => r.path.includes('encoder_model.onnx')).length, 1);
    const head = await fetch(`${hub.url}/${repo}/resolve/${revision}/onnx/encoder_model.onnx`, { method: 'HEAD', redirect: 'manual' });
    assert.equal(head.status, 302);
    assert.equal(head.headers.get('x-linked-etag'), `"${sha(encoder)}"`);
    assert.equal(head.headers.get('x-linked-size'), String(encoder.length));
    assert.equal(head.headers.get('x-repo-commit'), revision);
  });

  it('names what the Hub does not have: repo, revision or file (404)', async () => {
    const missing = (id: string, rev: string, path: string) =>
      parseManifest({ set: 'real', models: [{ role: 'genre', id, revision: rev, source: { kind: 'hub', repo: id }, precisions: { fp32: [{ path }] } }] });
    for (const [manifestOf, code] of [
      [missing('acme/nowhere', 'main', 'model.onnx'), 'RepoNotFound'],
      [missing(repo, 'no-such-revision', 'model.onnx'), 'RevisionNotFound'],
      [missing(repo, revision, 'onnx/model_int4.onnx'), 'EntryNotFound'],
    ] as const) {
      await assert.rejects(pullModels({ modelsDir, manifest: manifestOf, roles: ['genre'], hfEndpoint: hub.url, retries: 0 }), (error) => {
        assert.ok(isCuratorError(error), String(error));
        assert.equal(error.code, 'download_failed');
        assert.match(error.message, /not found \(404\)/, code);
        assert.equal(error.retryable, false);
        return true;
      });
    }
  });

  it('refuses a file the Hub serves from another commit than the pinned one', async () => {
    const pinned = 'a'.repeat(40);
    const other = 'b'.repeat(40);
    hub.put('acme/moved', other, 'model.onnx', randomBytes(1024));
    // A mirror that answers the pinned commit with another one's files.
    hub.branch('acme/moved', pinned, other);
    const moved = parseManifest({ set: 'real', models: [{ role: 'genre', id: 'acme/moved', revision: pinned, source: { kind: 'hub', repo: 'acme/moved' }, precisions: { fp32: [{ path: 'model.onnx' }] } }] });
    await assert.rejects(pullModels({ modelsDir, manifest: moved, roles: ['genre'], hfEndpoint: hub.url, retries: 0 }), (error) => isCuratorError(error) && /served commit b{40}, the manifest pins a{40}/.test(error.message));
    assert.equal(existsSync(join(modelsDir, 'acme', 'moved')), false);
  });
});

describe('pullModels from S3', () => {
  let s3rver: S3rver;
  let endpoint: string;
  let s3dir: string;
  const bucket = 'curator-models';
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

  before(async () => {
    s3dir = await mkdtemp(join(tmpdir(), 'curator-s3rver-'));
    s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3dir });
    const address = await s3rver.run();
    endpoint = `http://127.0.0.1:${address.port}`;
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const files: [string, Buffer][] = [['config.json', config], ['tokenizer.json', tokenizer], ['onnx/encoder_model.onnx', encoder], ['onnx/decoder_model_merged.onnx', decoder]];
    for (const [path, bytes] of files) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `exports/${repo}/${path}`, Body: bytes }));
    client.destroy();
  });
  after(async () => {
    await s3rver.close();
    await rm(s3dir, { recursive: true, force: true });
  });

  it('pulls a model from s3://bucket/prefix and list shows it verified', async () => {
    const modelsDir = await mkdtemp(join(tmpdir(), 'curator-models-'));
    const manifest = manifestWith();
    const result = await pullModels({ modelsDir, manifest, roles: ['summarizer'], from: `s3://${bucket}/exports`, s3: { endpoint, region: 'us-east-1', forcePathStyle: true, credentials } });
    assert.deepEqual(result.pulled.map((p) => p.id), [repo]);
    const model = resolveModel('summarizer', { modelsDir, manifest });
    assert.deepEqual(await readFile(model.paths['decoder']!), decoder);
    const rows = await listModels({ modelsDir, manifest, roles: ['summarizer'] });
    assert.equal(rows[0]!.status, 'verified');
    assert.equal(rows[0]!.verified, true);
  });

  it('resumes from a partial file with a ranged GET guarded by If-Match, and starts over when the object changed', async () => {
    const s3 = { endpoint, region: 'us-east-1', forcePathStyle: true, credentials };
    const client = new S3Client({ ...s3 });
    const etag = (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `exports/${repo}/onnx/encoder_model.onnx` }))).ETag;
    client.destroy();
    const stagePartial = async (modelsDir: string, validator: string | undefined) => {
      const staged = join(modelsDir, '.staging', 'acme--tiny-t5', 'onnx');
      await mkdir(staged, { recursive: true });
      await writeFile(join(staged, 'encoder_model.onnx.partial'), encoder.subarray(0, 1000));
      await writeFile(join(staged, 'encoder_model.onnx.partial.json'), JSON.stringify({ validator }));
    };
    const pull = async (modelsDir: string) => {
      const events: PullEvent[] = [];
      await pullModels({ modelsDir, manifest: manifestWith(), roles: ['summarizer'], from: `s3://${bucket}/exports`, s3, onProgress: (e) => events.push(e) });
      assert.deepEqual(await readFile(resolveModel('summarizer', { modelsDir, manifest: manifestWith() }).paths['encoder']!), encoder);
      return events.filter((e) => 'path' in e && e.path === 'onnx/encoder_model.onnx');
    };

    const resumedDir = await mkdtemp(join(tmpdir(), 'curator-models-'));
    await stagePartial(resumedDir, etag);
    const resumed = await pull(resumedDir);
    assert.deepEqual(resumed.filter((e) => e.type === 'file-start').map((e) => e.type === 'file-start' && e.resumeFrom), [1000]);

    const changedDir = await mkdtemp(join(tmpdir(), 'curator-models-'));
    await stagePartial(changedDir, '"0123456789abcdef0123456789abcdef"');
    const restarted = await pull(changedDir);
    assert.ok(restarted.some((e) => e.type === 'file-restart'));
    assert.deepEqual(restarted.filter((e) => e.type === 'file-start').map((e) => e.type === 'file-start' && e.resumeFrom), [0]);
  });

  it('names the missing object', async () => {
    const modelsDir = await mkdtemp(join(tmpdir(), 'curator-models-'));
    await assert.rejects(
      pullModels({ modelsDir, manifest: manifestWith(), roles: ['summarizer'], precision: 'fp16', from: `s3://${bucket}/exports`, s3: { endpoint, region: 'us-east-1', forcePathStyle: true, credentials } }),
      (error) => isCuratorError(error) && error.code === 'download_failed' && /encoder_model_fp16\.onnx/.test(error.message),
    );
  });
});
