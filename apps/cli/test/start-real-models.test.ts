// `npm start` with real models, on loopback: a Hub-shaped server serves tiny repositories laid out
// like the real ones (packages/reference/hub, saved by transformers), a manifest pins them by commit
// and sha256 (CURATOR_MODELS_MANIFEST), and the start path on a fresh MODELS_DIR pulls, verifies,
// converts, loads the engines and answers jobs as transformers answers the same texts.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '@curator/telemetry';
import { hubReferenceDir } from '@curator/reference';
import { conversionRecordFile, readConversionRecord, realManifest, type ModelEntryInput, type ModelRole } from '@curator/models';
import { testEnvironment, waitFor, type TestEnvironment } from '@curator/testkit';
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

const roles = ['sentiment', 'genre', 'summarizer', 'headline'] as const satisfies readonly ModelRole[];
/** A commit sha per fixture repo, as the Hub would name it. */
const commitOf = (role: string) => createHash('sha1').update(`fixture ${role}`).digest('hex');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const sentimentLabels: Record<string, string> = { NEG: 'negative', NEU: 'neutral', POS: 'positive' };

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
      const published = await hub.publishFolder(id, commitOf(role), join(hubReferenceDir, role));
      const pin = (file: { path: string; key?: string | undefined }) => {
        const bytes = published.get(file.path);
        assert.ok(bytes, `the ${role} fixture repo has ${file.path}, as the real repo`);
        return { path: file.path, ...(file.key ? { key: file.key } : {}), sha256: sha256(bytes), size: bytes.length };
      };
      assert.equal(published.size, real.shared.length + real.weights.length, `the ${role} fixture repo has no more files than the real one's manifest fetches`);
      models.push({ role, id, revision: commitOf(role), source: { kind: 'hub', repo: id }, shared: real.shared.map(pin), weights: real.weights.map(pin), conversion: real.conversion!, precisions: real.precisions });
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
        WORKER_POOLS: 'text',
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

  it('pulls, verifies and converts the pinned checkpoints, then classifies, summarizes and writes headlines as transformers does', async () => {
    running = await startAll(t.env);
    const url = running.url;

    // Every file came from the loopback Hub, weights through its CDN, each once.
    for (const role of roles) {
      const dir = join(modelsDir, 'fixture', role);
      const record = await readConversionRecord(dir);
      assert.ok(record, `${role}: ${conversionRecordFile}`);
      assert.equal(record.revision, commitOf(role));
      assert.ok(record.conversions.fp32, `${role}: converted to the CPU's precision`);
    }
    assert.ok(hub.cdnRequests().some((r) => r.path.includes('pytorch_model.bin')));
    assert.ok(hub.requests.every((r) => !r.range), 'nothing had to be resumed');

    const run = async (request: object) => {
      const accepted = await json(`${url}/jobs`, { method: 'POST', body: JSON.stringify(request) });
      assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
      const view = await waitFor(() => json(`${url}/jobs/${accepted.body.id}`), (r) => r.body.status === 'succeeded' || r.body.status === 'failed', 'the job');
      assert.equal(view.body.status, 'succeeded', JSON.stringify(view.body.error));
      assert.equal(view.body.result.models, 'real');
      return view.body.result;
    };
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
