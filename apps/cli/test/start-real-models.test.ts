// `npm start` with real models, on loopback: a Hub-shaped server serves tiny repositories laid out
// like the real ones (packages/reference/hub, saved by transformers), a manifest pins them by commit
// and sha256 (CURATOR_MODELS_MANIFEST), and the start path on a fresh MODELS_DIR pulls, verifies,
// converts, loads the engines and answers jobs as transformers answers the same texts.
// The image role (diffusers layout) has no diffusers reference answer for whole pictures here: its
// repo is the test set's fake checkpoint (writeTestCheckpoint: exactly the real repo's files, seeded
// random weights), served and pinned the same way, and a text-to-image job must store a PNG of the
// requested size, the same bytes for the same seed.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@curator/telemetry';
import { hubReferenceDir } from '@curator/reference';
import { conversionRecordFile, readConversionRecord, realManifest, writeTestCheckpoint, type ModelEntry, type ModelEntryInput, type ModelRole } from '@curator/models';
import { deleteKeys, testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
import { FakeHub } from '../../../packages/models/test/hub-server.ts';
import { startAll } from '../src/commands/start.ts';
import { prepareForStart } from '../src/commands/models.ts';

interface Answers {
  texts: string[];
  sentiment: { text: string; scores: Record<string, number> }[];
  genre: { text: string; scores: Record<string, number> }[];
  summarizer: { text: string; tokens: number[]; output: string }[];
  headline: { text: string; tokens: number[]; output: string }[];
}

const roles = ['sentiment', 'genre', 'summarizer', 'headline', 'image'] as const satisfies readonly ModelRole[];
/** A commit sha per fixture repo, as the Hub would name it. */
const commitOf = (role: string) => createHash('sha1').update(`fixture ${role}`).digest('hex');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sentimentLabels: Record<string, string> = { NEG: 'negative', NEU: 'neutral', POS: 'positive' };

/**
 * Decodes a PNG to its pixels, checking what a viewer would trip on: the signature, every chunk's
 * CRC, IHDR, and an IDAT stream of exactly one filter byte plus one row per line. 8-bit RGB(A),
 * not interlaced (what the image stage writes); anything else fails the test.
 */
function decodePng(bytes: Buffer): { width: number; height: number; channels: number; pixels: Buffer } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the PNG signature');
  let header: { width: number; height: number; channels: number } | undefined;
  const data: Buffer[] = [];
  let offset = 8;
  let ended = false;
  while (!ended) {
    assert.ok(offset + 12 <= bytes.length, 'a PNG chunk past the end of the file');
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    assert.equal(bytes.readUInt32BE(offset + 8 + length), crc32(bytes.subarray(offset + 4, offset + 8 + length)), `the CRC of ${type}`);
    if (type === 'IHDR') {
      const [depth, color, , , interlace] = body.subarray(8, 13);
      assert.equal(depth, 8, 'bit depth');
      assert.equal(interlace, 0, 'not interlaced');
      assert.ok(color === 2 || color === 6, `colour type ${color}`);
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), channels: color === 2 ? 3 : 4 };
    } else if (type === 'IDAT') data.push(body);
    else if (type === 'IEND') ended = true;
    offset += 12 + length;
  }
  assert.ok(header, 'an IHDR chunk');
  const raw = inflateSync(Buffer.concat(data));
  const stride = 1 + header.width * header.channels;
  assert.equal(raw.length, header.height * stride, 'one filtered row per line');
  const { width, height, channels } = header;
  const rowBytes = width * channels;
  const pixels = Buffer.alloc(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * stride]!;
    const line = raw.subarray(y * stride + 1, (y + 1) * stride);
    const out = pixels.subarray(y * rowBytes, (y + 1) * rowBytes);
    const up = y > 0 ? pixels.subarray((y - 1) * rowBytes, y * rowBytes) : Buffer.alloc(rowBytes);
    for (let x = 0; x < rowBytes; x++) {
      const a = x >= channels ? out[x - channels]! : 0;
      const b = up[x]!;
      const c = x >= channels ? up[x - channels]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      assert.ok(predictor !== undefined, `row filter ${filter}`);
      out[x] = (line[x]! + predictor) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
  return { status: res.status, body: await res.json() };
}

describe('npm start with real models from a Hub', () => {
  let hub: FakeHub;
  let t: TestEnvironment;
  let root: string;
  let modelsDir: string;
  let running: Awaited<ReturnType<typeof startAll>> | undefined;
  let answers: Answers;
  /** Each role's real manifest entry (the files and recipe the fixture's entry copies) and the bytes its fixture repo published. */
  const fixtures = new Map<ModelRole, { real: ModelEntry; published: Map<string, Buffer> }>();

  before(async () => {
    answers = JSON.parse(await readFile(join(hubReferenceDir, 'answers.json'), 'utf8')) as Answers;
    hub = await new FakeHub().start();
    root = await mkdtemp(join(tmpdir(), 'curator-start-real-'));
    modelsDir = join(root, 'models');
    // The manifest of the real models, pointed at the fixture repos: same files, same recipes, pinned.
    const models: ModelEntryInput[] = [];
    for (const role of roles) {
      const real = realManifest.models.find((m) => m.role === role)!;
      const id = `fixture/${role}`;
      // The text roles' repos were saved by transformers; the image repo is the test set's fake
      // checkpoint, written here with the real entry's file list (the generator refuses any other).
      let repoDir = join(hubReferenceDir, role);
      if (role === 'image') {
        repoDir = join(root, 'hub', role);
        await mkdir(repoDir, { recursive: true });
        await writeTestCheckpoint(real, repoDir);
      }
      const published = await hub.publishFolder(id, commitOf(role), repoDir);
      const pin = (file: { path: string; key?: string | undefined }) => {
        const bytes = published.get(file.path);
        assert.ok(bytes, `the ${role} fixture repo has ${file.path}, as the real repo`);
        return { path: file.path, ...(file.key ? { key: file.key } : {}), sha256: sha256(bytes), size: bytes.length };
      };
      assert.equal(published.size, real.shared.length + real.weights.length, `the ${role} fixture repo has no more files than the real one's manifest fetches`);
      models.push({ role, id, revision: commitOf(role), source: { kind: 'hub', repo: id }, shared: real.shared.map(pin), weights: real.weights.map(pin), conversion: real.conversion!, precisions: real.precisions });
      fixtures.set(role, { real, published });
    }
    const manifestFile = join(root, 'models.json');
    await writeFile(manifestFile, JSON.stringify({ models }));
    t = await testEnvironment({
      roles: [],
      vars: {
        MODELS_DIR: modelsDir,
        CURATOR_MODELS: 'real',
        CURATOR_MODELS_MANIFEST: manifestFile,
        HF_ENDPOINT: hub.url,
        WORKER_POOLS: 'text,image',
        // transformers' pipeline feeds the text as it is; the answers were recorded that way.
        SENTIMENT_PREPROCESSING: 'huggingface',
      },
    });
  });

  after(async () => {
    await running?.close();
    await t?.close();
    await hub?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('pulls, verifies and converts the pinned checkpoints, then classifies, summarizes and writes headlines as transformers does, and draws pictures', async () => {
    running = await startAll(t.env);
    const url = running.url;

    // Every file came from the loopback Hub at the pinned commit, weights through its CDN, each once;
    // the converter read exactly those bytes.
    for (const role of roles) {
      const { real, published } = fixtures.get(role)!;
      const paths = [...real.shared, ...real.weights].map((f) => f.path);
      const resolved = hub.hubRequests().filter((r) => r.method === 'GET' && r.path.startsWith(`/fixture/${role}/resolve/`));
      assert.deepEqual(resolved.map((r) => decodeURIComponent(r.path)).sort(), paths.map((path) => `/fixture/${role}/resolve/${commitOf(role)}/${path}`).sort(), `${role}: the manifest's files, each once, at the pinned commit`);
      const dir = join(modelsDir, 'fixture', role);
      const record = await readConversionRecord(dir);
      assert.ok(record, `${role}: ${conversionRecordFile}`);
      assert.equal(record.id, `fixture/${role}`);
      assert.equal(record.revision, commitOf(role));
      assert.equal(record.builder, real.conversion!.builder);
      for (const file of real.weights) assert.equal(record.sources[file.path]?.sha256, sha256(published.get(file.path)!), `${role}: converted from the pinned ${file.path}`);
      assert.ok(record.conversions.fp32, `${role}: converted to the CPU's precision`);
    }
    assert.ok(hub.cdnRequests().some((r) => r.path.includes('pytorch_model.bin')));
    for (const file of fixtures.get('image')!.real.weights) assert.equal(hub.cdnRequests().filter((r) => decodeURIComponent(r.path).endsWith(`/${file.path}`)).length, 1, `${file.path} through the CDN`);
    assert.ok(hub.requests.every((r) => !r.range), 'nothing had to be resumed');

    const runJob = async (request: object) => {
      const accepted = await json(`${url}/jobs`, { method: 'POST', body: JSON.stringify(request) });
      assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
      const view = await waitFor(() => json(`${url}/jobs/${accepted.body.id}`), (r) => r.body.status === 'succeeded' || r.body.status === 'failed', 'the job');
      assert.equal(view.body.status, 'succeeded', JSON.stringify(view.body.error));
      assert.equal(view.body.result.models, 'real');
      return view.body;
    };
    const run = async (request: object) => (await runJob(request)).result;
    for (const [index, text] of answers.texts.entries()) {
      for (const task of ['sentiment', 'genre'] as const) {
        const result = await run({ type: 'classify', input: { text }, params: { task } });
        const expected = answers[task][index]!.scores;
        for (const [label, probability] of Object.entries(expected)) {
          const name = task === 'sentiment' ? sentimentLabels[label]! : label;
          assert.ok(Math.abs(result.scores[name] - probability) < 1e-5, `${task} "${text}": ${name} ${result.scores[name]} vs transformers' ${probability}`);
        }
        const best = Object.entries(expected).sort((a, b) => b[1] - a[1])[0]![0];
        assert.equal(result.label, task === 'sentiment' ? sentimentLabels[best] : best);
      }
      const summary = await run({ type: 'summarize', input: { text } });
      assert.equal(summary.text, answers.summarizer[index]!.output, `summary of "${text}"`);
      const headline = await run({ type: 'headline', input: { text } });
      assert.equal(headline.text, answers.headline[index]!.output, `headline of "${text}"`);
    }

    // A picture from the converted diffusers checkpoint, stored in S3, read back through its
    // presigned URL. Tiny and few steps: the denoising loop is the same at any size.
    const picture = { type: 'text-to-image', input: { prompt: answers.texts[0] }, params: { width: 64, height: 72, steps: 2, seed: 7 } };
    const drawn = async () => {
      const view = await runJob(picture);
      const stage = view.stages.find((s: { name: string }) => s.name === 'image');
      assert.deepEqual([stage?.status, stage?.cached, stage?.metrics?.steps], ['succeeded', false, 2], 'drawn, not taken from the stage cache');
      const result = view.result;
      assert.equal(result.generation.model, 'fixture/image');
      assert.equal(result.generation.steps, 2);
      assert.equal(result.generation.seed, 7);
      assert.equal(result.images.length, 1);
      const image = result.images[0]!;
      assert.deepEqual([image.contentType, image.width, image.height, image.seed], ['image/png', 64, 72, 7]);
      const res = await fetch(image.url);
      assert.equal(res.status, 200);
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.equal(bytes.length, image.bytes);
      const png = decodePng(bytes);
      assert.deepEqual([png.width, png.height], [64, 72], 'the requested size');
      assert.ok(new Set(png.pixels).size > 16, 'a picture, not a flat fill');
      return bytes;
    };
    const first = await drawn();
    // The seeded picture is in the stage cache now; without it, the same seed must draw it again.
    await deleteKeys(t.redis, `${t.env.QUEUE_PREFIX}:stage-cache:*`);
    const second = await drawn();
    assert.ok(first.equals(second), 'the same seed, the same bytes');
  });

  it('a second start finds everything in place: no download, no conversion', async () => {
    hub.requests.length = 0;
    const lines: string[] = [];
    const io = { stdout: Object.assign(new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }), { isTTY: false }) };
    const prepared = await prepareForStart(t.env, [...roles], createLogger('test', 'silent'), io);
    assert.deepEqual(prepared.map((m) => [m.role, m.precision]), roles.map((role) => [role, 'fp32']));
    assert.equal(hub.requests.length, 0);
    assert.ok(!lines.some((line) => /converting/.test(line)), lines.join(''));
  });
});
