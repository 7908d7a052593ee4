// The T5 builder against transformers' own T5ForConditionalGeneration (packages/reference/models):
// the same weights, read from the safetensors file PyTorch wrote, must give transformers' encoder
// states, logits and generated tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import { writeT5, parseT5Config, relativePositionBucket, t5WeightRequests, type T5Part } from '../src/t5.ts';
import { randomWeights } from '../src/weights.ts';
import type { Precision } from '../src/graph.ts';
import { fixtureConfig, fixturePath, floats, int64, int64Of, maxAbs, maxAbsDiff, readerWeights, readTensors, report, session, tensor, withCheckpoint } from './text-fixtures.ts';

const allParts: T5Part[] = ['encoder_model', 'decoder_model_merged', 'decoder_model', 'decoder_with_past_model'];
// fp32: measured max |diff| 1.2e-6 (encoder) and 3.8e-6 (logits, values up to ~15).
const fp32Tolerance = 2e-5;
// fp16 weights and arithmetic (see README): measured about 4e-3 / 9e-3.
const fp16Tolerance = 3e-2;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'graphs-t5-'));
});
after(() => rm(dir, { recursive: true, force: true }));

interface Built {
  sessions: Record<T5Part, ort.InferenceSession>;
  requested: { name: string; shape: number[] }[];
}

const built = new Map<string, Promise<Built>>();

/** The fixture model converted from its model.safetensors, once per model and precision. */
function build(model: string, precision: Precision): Promise<Built> {
  const key = `${model}/${precision}`;
  let result = built.get(key);
  if (!result) {
    result = (async () => {
      const config = await fixtureConfig(model);
      const out = join(dir, model, precision);
      const written = await withCheckpoint(fixturePath(model, 'model.safetensors'), (reader) => writeT5(out, config, readerWeights(reader), { precision, parts: allParts }));
      const sessions = Object.fromEntries(await Promise.all(allParts.map(async (part, i) => [part, await session(written.files[i]!.path)] as const))) as Record<T5Part, ort.InferenceSession>;
      return { sessions, requested: written.requested };
    })();
    built.set(key, result);
  }
  return result;
}

after(async () => {
  for (const b of built.values()) for (const s of Object.values((await b).sessions)) await s.release();
});

function floatTensor(values: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', values, dims);
}

for (const model of ['t5-tiny', 't5-v1_1-tiny']) {
  for (const precision of ['fp32', 'fp16'] as const) {
    const tolerance = precision === 'fp32' ? fp32Tolerance : fp16Tolerance;
    test(`${model} ${precision}: encoder states and decoder logits equal transformers' (padded batch, attention mask)`, async () => {
      const { sessions } = await build(model, precision);
      const out = await readTensors(fixturePath(model, 'outputs.safetensors'));
      const mask = int64(tensor(out, 'attention_mask'));
      const { last_hidden_state: hidden } = await sessions.encoder_model.run({ input_ids: int64(tensor(out, 'input_ids')), attention_mask: mask });
      const expectedHidden = tensor(out, 'encoder_last_hidden_state').values as Float32Array;
      const hiddenDiff = maxAbsDiff(floats(hidden!), expectedHidden);
      report(`${model} ${precision} encoder last_hidden_state max |diff| (values up to ${maxAbs(expectedHidden).toFixed(1)})`, hiddenDiff);
      assert.ok(hiddenDiff <= tolerance, `encoder: ${hiddenDiff}`);

      const expectedLogits = tensor(out, 'logits').values as Float32Array;
      const decoderIds = int64(tensor(out, 'decoder_input_ids'));
      const first = await sessions.decoder_model.run({ input_ids: decoderIds, encoder_attention_mask: mask, encoder_hidden_states: hidden! });
      const logitsDiff = maxAbsDiff(floats(first.logits!), expectedLogits);
      report(`${model} ${precision} logits max |diff| (values up to ${maxAbs(expectedLogits).toFixed(1)})`, logitsDiff);
      assert.ok(logitsDiff <= tolerance, `logits: ${logitsDiff}`);

      // The merged decoder's first-step branch is the same computation (in fp16, onnxruntime's
      // inserted Casts fall differently inside the If branch: equal to fp16 rounding).
      const config = parseT5Config(await fixtureConfig(model));
      const rows = tensor(out, 'decoder_input_ids').shape[0]!;
      const merged = await sessions.decoder_model_merged.run({
        input_ids: decoderIds,
        encoder_attention_mask: mask,
        encoder_hidden_states: hidden!,
        use_cache_branch: new ort.Tensor('bool', new Uint8Array([0]), [1]),
        ...emptyPast(config.numDecoderLayers, rows, config.numHeads, config.dKv, precision),
      });
      if (precision === 'fp32') assert.deepEqual(floats(merged.logits!), floats(first.logits!));
      else assert.ok(maxAbsDiff(floats(merged.logits!), floats(first.logits!)) <= tolerance);
    });
  }
}

function emptyPast(layers: number, rows: number, heads: number, dKv: number, precision: Precision): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const empty = () => (precision === 'fp16' ? new ort.Tensor('float16', new Uint16Array(0), [rows, heads, 0, dKv]) : floatTensor(new Float32Array(0), [rows, heads, 0, dKv]));
  for (let i = 0; i < layers; i++) for (const part of ['decoder', 'encoder']) for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${part}.${kv}`] = empty();
  return feeds;
}

function argmax(values: Float32Array, offset: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}

/** Greedy decoding over the built graphs with the KV cache: the merged decoder, or the split pair. */
async function greedy(b: Built, precision: Precision, inputIds: number[], maxNewTokens: number, layout: 'merged' | 'split'): Promise<number[]> {
  const config = parseT5Config(await fixtureConfig('t5-tiny'));
  const mask = int64Of([inputIds.map(() => 1)]);
  const { last_hidden_state: hidden } = await b.sessions.encoder_model.run({ input_ids: int64Of([inputIds]), attention_mask: mask });
  const tokens = [0];
  let cache: Record<string, ort.Tensor> = {};
  for (let step = 0; step < maxNewTokens; step++) {
    const base = { input_ids: int64Of([[tokens.at(-1)!]]), encoder_attention_mask: mask };
    let out: ort.InferenceSession.OnnxValueMapType;
    if (layout === 'merged') {
      const past = step === 0 ? emptyPast(config.numDecoderLayers, 1, config.numHeads, config.dKv, precision) : cache;
      out = await b.sessions.decoder_model_merged.run({ ...base, encoder_hidden_states: hidden!, use_cache_branch: new ort.Tensor('bool', new Uint8Array([step === 0 ? 0 : 1]), [1]), ...past });
    } else {
      out = step === 0 ? await b.sessions.decoder_model.run({ ...base, encoder_hidden_states: hidden! }) : await b.sessions.decoder_with_past_model.run({ ...base, ...cache });
    }
    // The cross-attention cache comes from the first step; the self-attention cache from every step.
    for (const [name, value] of Object.entries(out)) {
      if (!name.startsWith('present.')) continue;
      if (name.includes('.encoder.') && step > 0) continue;
      cache[name.replace('present.', 'past_key_values.')] = value;
    }
    const logits = floats(out.logits!);
    const next = argmax(logits, 0, config.vocabSize);
    tokens.push(next);
    if (next === 1) break;
  }
  return tokens;
}

interface Run {
  name: string;
  input: number;
  padded_to?: number | null;
  options: Record<string, number | boolean>;
  sequences: number[][];
  sequences_scores?: number[];
}

async function recordedRuns(version: string): Promise<{ inputs: number[][]; runs: Run[] }> {
  return JSON.parse(await readFile(fixturePath('t5-tiny', `generate-${version}.json`), 'utf8'));
}

for (const layout of ['merged', 'split'] as const) {
  test(`t5-tiny fp32 ${layout}: greedy decoding with the KV cache gives transformers' tokens, run for run`, async () => {
    const b = await build('t5-tiny', 'fp32');
    const { inputs, runs } = await recordedRuns('5.18.0');
    const greedyRuns = runs.filter((r) => r.name === 'greedy');
    assert.equal(greedyRuns.length, 8);
    for (const run of greedyRuns) {
      const expected = run.sequences[0]!;
      assert.deepEqual(await greedy(b, 'fp32', inputs[run.input]!, Number(run.options.max_new_tokens), layout), expected, `input ${run.input}`);
    }
  });
}

test('t5-tiny fp16: greedy decoding gives transformers\' (fp32) tokens on most inputs', async () => {
  const b = await build('t5-tiny', 'fp16');
  const { inputs, runs } = await recordedRuns('5.18.0');
  let same = 0;
  const greedyRuns = runs.filter((r) => r.name === 'greedy');
  for (const run of greedyRuns) if ((await greedy(b, 'fp16', inputs[run.input]!, 20, 'merged')).join() === run.sequences[0]!.join()) same++;
  console.log(`# t5-tiny fp16 greedy runs equal to transformers fp32: ${same} of ${greedyRuns.length}`);
  assert.ok(same >= greedyRuns.length - 2, `${same} of ${greedyRuns.length}`);
});

/** Sum of log-softmax of `tokens` after the start token, from one full decoder pass. */
async function sequenceLogprob(b: Built, inputIds: number[], attention: number[], tokens: number[]): Promise<number> {
  const vocab = parseT5Config(await fixtureConfig('t5-tiny')).vocabSize;
  const mask = int64Of([attention]);
  const { last_hidden_state: hidden } = await b.sessions.encoder_model.run({ input_ids: int64Of([inputIds]), attention_mask: mask });
  const { logits } = await b.sessions.decoder_model.run({ input_ids: int64Of([tokens.slice(0, -1)]), encoder_attention_mask: mask, encoder_hidden_states: hidden! });
  const values = floats(logits!);
  let sum = 0;
  for (let t = 1; t < tokens.length; t++) {
    const row = (t - 1) * vocab;
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) max = Math.max(max, values[row + v]!);
    let z = 0;
    for (let v = 0; v < vocab; v++) z += Math.exp(values[row + v]! - max);
    sum += values[row + tokens[t]!]! - max - Math.log(z);
  }
  return sum;
}

test('t5-tiny fp32: every beam transformers returned scores the same on the built graphs (padded to 384 for the headline stage)', async () => {
  const b = await build('t5-tiny', 'fp32');
  const { inputs, runs } = await recordedRuns('5.18.0');
  let checked = 0;
  let worst = 0;
  for (const run of runs.filter((r) => r.sequences_scores)) {
    const input = inputs[run.input]!;
    const width = run.padded_to ?? input.length;
    const ids = [...input, ...new Array<number>(width - input.length).fill(0)];
    const attention = ids.map((_, i) => (i < input.length ? 1 : 0));
    const lengthPenalty = Number(run.options.length_penalty ?? 1);
    for (const [j, sequence] of run.sequences.entries()) {
      // Finished beams are padded after their </s>; the score counts tokens up to it.
      const end = sequence.indexOf(1, 1);
      const tokens = end === -1 ? sequence : sequence.slice(0, end + 1);
      const logprob = await sequenceLogprob(b, ids, attention, tokens);
      const score = logprob / (tokens.length - 1) ** lengthPenalty;
      worst = Math.max(worst, Math.abs(score - run.sequences_scores![j]!));
      checked++;
    }
  }
  report(`beam scores of ${checked} returned sequences, max |diff|`, worst);
  assert.ok(checked >= 40);
  assert.ok(worst < 1e-4, `${worst}`);
});

test('transformers 4.57.6 and 5.18.0 generate the same tokens on every recorded run', async () => {
  const v4 = await recordedRuns('4.57.6');
  const v5 = await recordedRuns('5.18.0');
  assert.equal(v4.runs.length, 48);
  assert.deepEqual(
    v4.runs.map((r) => r.sequences),
    v5.runs.map((r) => r.sequences),
  );
});

test('relative position buckets equal transformers\' _relative_position_bucket, both directions, two configs', async () => {
  const tables = JSON.parse(await readFile(fixturePath('t5-tiny', 'relative-position-buckets.json'), 'utf8')) as {
    num_buckets: number;
    max_distance: number;
    bidirectional: boolean;
    relative_positions_from: number;
    buckets: number[];
  }[];
  assert.equal(tables.length, 4);
  for (const t of tables) {
    const mine = t.buckets.map((_, i) => relativePositionBucket(t.relative_positions_from + i, t.bidirectional, t.num_buckets, t.max_distance));
    assert.deepEqual(mine, t.buckets, `${t.num_buckets}/${t.max_distance}/${t.bidirectional}`);
  }
});

for (const model of ['t5-tiny', 't5-v1_1-tiny']) {
  test(`${model}: the graphs ask for exactly the tensors of transformers' model.safetensors, with their shapes`, async () => {
    const { requested } = await build(model, 'fp32');
    const inFile = await withCheckpoint(fixturePath(model, 'model.safetensors'), async (reader) => reader.tensors().map((t) => ({ name: t.name, shape: t.shape })));
    const byName = (list: { name: string; shape: number[] }[]) => [...list].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(byName(requested), byName(inFile));
    assert.deepEqual(byName(t5WeightRequests(await fixtureConfig(model))), byName(inFile));
  });
}

test('the untied T5 (v1.1) has its own lm_head and no output rescaling; the tied one uses shared.weight', async () => {
  const tied = t5WeightRequests(await fixtureConfig('t5-tiny')).map((r) => r.name);
  const untied = t5WeightRequests(await fixtureConfig('t5-v1_1-tiny')).map((r) => r.name);
  assert.ok(!tied.includes('lm_head.weight'));
  assert.ok(untied.includes('lm_head.weight'));
  assert.ok(untied.includes('decoder.block.2.layer.2.DenseReluDense.wi_1.weight'), 'num_decoder_layers 3, gated feed-forward');
  assert.ok(!untied.includes('encoder.block.2.layer.0.SelfAttention.q.weight'), 'num_layers 2 in the encoder');
});

test('random weights: the same seed writes the same files byte for byte, another seed other ones', async () => {
  const config = await fixtureConfig('t5-tiny');
  const write = async (seed: number, name: string) => {
    const written = await writeT5(join(dir, name), config, randomWeights(seed), { parts: ['encoder_model', 'decoder_model_merged'] });
    return Promise.all(written.files.map((f) => readFile(f.path)));
  };
  const [a, b, c] = [await write(1, 'seed-a'), await write(1, 'seed-b'), await write(2, 'seed-c')];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0], c[0]);
  assert.notDeepEqual(a[1], c[1]);
});

test('config.json: feed_forward_proj and tie_word_embeddings read as transformers reads them; bad values refused', () => {
  assert.equal(parseT5Config({ feed_forward_proj: 'gated-gelu' }).activation, 'gelu_new');
  assert.equal(parseT5Config({ feed_forward_proj: 'gated-silu' }).activation, 'silu');
  assert.equal(parseT5Config({}).gated, false);
  assert.equal(parseT5Config({}).tied, true);
  assert.equal(parseT5Config({ tie_word_embeddings: false }).tied, false);
  assert.equal(parseT5Config({ num_layers: 3 }).numDecoderLayers, 3);
  assert.throws(() => parseT5Config({ feed_forward_proj: 'double-gelu' }), /feed_forward_proj/);
  assert.throws(() => parseT5Config({ feed_forward_proj: 'tanh' }), /not supported/);
  assert.throws(() => parseT5Config({ d_model: 0 }), /d_model/);
  assert.throws(() => parseT5Config({ model_type: 'bart' }), /not t5/);
});
