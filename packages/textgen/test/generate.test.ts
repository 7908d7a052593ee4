import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { Seq2SeqModel } from '../src/seq2seq-model.ts';
import { generateBatch, type GenerationResult } from '../src/generate.ts';
import { resolveOptions, type GenerateOptions } from '../src/options.ts';
import { logSoftmax } from '../src/logits.ts';
import { lastPositionLogits } from '../src/seq2seq-model.ts';
import { tinyT5, sampleInputs } from './fixtures.ts';

let fixture: Awaited<ReturnType<typeof tinyT5>>;
let merged: Seq2SeqModel;
let split: Seq2SeqModel;

before(async () => {
  fixture = await tinyT5({ tokenizer: false });
  merged = await Seq2SeqModel.load({ modelDir: fixture.dir, sessionOptions: { intraOpNumThreads: 1 } });
  split = await Seq2SeqModel.load({ modelDir: fixture.dir, decoder: 'split', sessionOptions: { intraOpNumThreads: 1 } });
});
after(async () => {
  await merged?.close();
  await split?.close();
  await fixture?.cleanup();
});

async function run(model: Seq2SeqModel, inputs: number[][], options: GenerateOptions): Promise<GenerationResult[]> {
  const results = await generateBatch(model, inputs.map((inputIds) => ({ inputIds, options: resolveOptions(options, model.generation) })));
  return results.map((r) => {
    if (r instanceof Error) throw r;
    return r;
  });
}

const tokensOf = (results: GenerationResult[]) => results.map((r) => r.sequences.map((s) => s.tokens));

/** The log-probability of `tokens` after the decoder start token, by one full decoder pass. */
async function teacherForcedLogprob(model: Seq2SeqModel, inputIds: number[], tokens: number[]): Promise<number> {
  const encoder = await model.encode([inputIds]);
  let sum = 0;
  for (let i = 0; i < tokens.length; i++) {
    const { logits } = await model.decodeFull([[0, ...tokens.slice(0, i)]], encoder);
    sum += logSoftmax(lastPositionLogits(logits)[0]!)[tokens[i]!]!;
  }
  return sum;
}

test('the picked files follow the layout asked for', () => {
  assert.equal(merged.layout, 'merged');
  assert.equal(split.layout, 'split');
  assert.match(merged.files[1]!, /onnx\/decoder_model_merged\.onnx$/);
  assert.match(split.files[2]!, /onnx\/decoder_with_past_model\.onnx$/);
});

test('decoding with the KV cache gives the tokens of recomputing the whole decoder every step', async () => {
  const inputs = sampleInputs.slice(0, 4);
  for (const options of [{ maxNewTokens: 16 }, { maxNewTokens: 16, numBeams: 3, numReturnSequences: 3 }, { maxNewTokens: 12, doSample: true, seed: 5 }] satisfies GenerateOptions[]) {
    const cached = await run(merged, inputs, options);
    const recomputed = await run(merged, inputs, { ...options, useCache: false });
    assert.deepEqual(tokensOf(cached), tokensOf(recomputed), JSON.stringify(options));
    assert.ok(cached.some((r) => r.sequences[0]!.tokens.length > 3), 'outputs run several tokens');
  }
});

test('numBeams 1 is greedy search', async () => {
  assert.equal(resolveOptions({ numBeams: 1 }, merged.generation).mode, 'greedy');
  assert.deepEqual(tokensOf(await run(merged, sampleInputs, { maxNewTokens: 20, numBeams: 1 })), tokensOf(await run(merged, sampleInputs, { maxNewTokens: 20 })));
});

test('beam search returns its beams ordered by length-penalized score, scored as the model scores them', async () => {
  for (const lengthPenalty of [1, 2, 0]) {
    const results = await run(merged, sampleInputs, { maxNewTokens: 30, numBeams: 4, numReturnSequences: 4, lengthPenalty });
    for (const [i, r] of results.entries()) {
      assert.equal(r.sequences.length, 4);
      for (let j = 1; j < r.sequences.length; j++) assert.ok(r.sequences[j - 1]!.score >= r.sequences[j]!.score);
      const best = r.sequences[0]!;
      const logprob = await teacherForcedLogprob(merged, sampleInputs[i]!, best.tokens);
      assert.ok(Math.abs(best.score - logprob / best.tokens.length ** lengthPenalty) < 1e-3, `${best.score} vs ${logprob / best.tokens.length ** lengthPenalty}`);
    }
    // Beams are distinct hypotheses, and some end before the length limit.
    assert.ok(results.every((r) => new Set(r.sequences.map((s) => s.tokens.join(','))).size === 4));
  }
  const ended = (await run(merged, sampleInputs, { maxNewTokens: 30, numBeams: 4, numReturnSequences: 4 })).flatMap((r) => r.sequences).filter((s) => s.tokens.at(-1) === 1);
  assert.ok(ended.length > 0);
});

// On the quantity the search ranks prefixes by (the log-likelihood, lengthPenalty 0). With a length
// penalty, beam search can prune the prefix of a greedy output that would have won after the
// division by its length: it happens on this model with lengthPenalty 1 (see the README).
test('beam search never scores worse than greedy search', async () => {
  for (const lengthPenalty of [0]) {
    const greedy = await run(merged, sampleInputs, { maxNewTokens: 30, lengthPenalty });
    const beams = await run(merged, sampleInputs, { maxNewTokens: 30, numBeams: 4, lengthPenalty, earlyStopping: 'never' });
    greedy.forEach((g, i) => assert.ok(beams[i]!.sequences[0]!.score >= g.sequences[0]!.score - 1e-6, `input ${i}: beam ${beams[i]!.sequences[0]!.score} < greedy ${g.sequences[0]!.score}`));
  }
});

test('early_stopping "never" finds hypotheses at least as good as early_stopping true, which stops first', async () => {
  const eager = await run(merged, sampleInputs, { maxNewTokens: 40, numBeams: 3, earlyStopping: true });
  const patient = await run(merged, sampleInputs, { maxNewTokens: 40, numBeams: 3, earlyStopping: 'never' });
  const heuristic = await run(merged, sampleInputs, { maxNewTokens: 40, numBeams: 3, earlyStopping: false });
  eager.forEach((e, i) => {
    assert.ok(patient[i]!.sequences[0]!.score >= e.sequences[0]!.score - 1e-9);
    assert.ok(patient[i]!.steps >= heuristic[i]!.steps && heuristic[i]!.steps >= e.steps);
  });
  assert.ok(eager.some((e, i) => e.steps < patient[i]!.steps), 'early stopping ends some searches sooner');
});

test('no n-gram of noRepeatNgramSize repeats, in greedy and beam outputs', async () => {
  for (const n of [2, 3]) {
    for (const numBeams of [1, 4]) {
      const results = await run(merged, sampleInputs, { maxNewTokens: 40, numBeams, numReturnSequences: numBeams, noRepeatNgramSize: n });
      for (const seq of results.flatMap((r) => r.sequences)) {
        const ids = [0, ...seq.tokens];
        const seen = new Set<string>();
        for (let i = 0; i + n <= ids.length; i++) {
          const gram = ids.slice(i, i + n).join(',');
          assert.ok(!seen.has(gram), `repeated ${n}-gram ${gram} in ${ids.join(' ')}`);
          seen.add(gram);
        }
      }
    }
  }
  // Without the constraint this model repeats itself, so the test above has something to prevent.
  const free = await run(merged, sampleInputs, { maxNewTokens: 40 });
  assert.ok(free.some((r) => new Set(r.sequences[0]!.tokens).size < r.sequences[0]!.tokens.length - 2));
});

test('minNewTokens holds the end of sequence back; maxNewTokens bounds the output', async () => {
  const results = await run(merged, sampleInputs, { maxNewTokens: 12, minNewTokens: 10, numBeams: 2, numReturnSequences: 2 });
  for (const s of results.flatMap((r) => r.sequences)) {
    assert.ok(s.tokens.length >= 10 && s.tokens.length <= 12, `${s.tokens.length}`);
    assert.ok(!s.tokens.slice(0, 9).includes(1));
  }
});

test('repetitionPenalty makes repeated tokens rarer', async () => {
  const distinct = (rs: GenerationResult[]) => rs.reduce((n, r) => n + new Set(r.sequences[0]!.tokens).size, 0);
  const plain = await run(merged, sampleInputs, { maxNewTokens: 30, minNewTokens: 30 });
  const penalized = await run(merged, sampleInputs, { maxNewTokens: 30, minNewTokens: 30, repetitionPenalty: 3 });
  assert.ok(distinct(penalized) > distinct(plain), `${distinct(penalized)} <= ${distinct(plain)}`);
});

test('a batch of mixed-length inputs gives exactly what each input gives alone', async () => {
  for (const options of [
    { maxNewTokens: 20 },
    { maxNewTokens: 20, numBeams: 4, numReturnSequences: 2, noRepeatNgramSize: 2 },
    { maxNewTokens: 20, doSample: true, seed: 11, numReturnSequences: 2, topK: 20, topP: 0.9, temperature: 0.8 },
  ] satisfies GenerateOptions[]) {
    const batched = await run(merged, sampleInputs, options);
    const alone: GenerationResult[] = [];
    for (const input of sampleInputs) alone.push(...(await run(merged, [input], options)));
    assert.deepEqual(tokensOf(batched), tokensOf(alone), JSON.stringify(options));
    batched.forEach((b, i) => b.sequences.forEach((s, j) => assert.ok(Math.abs(s.score - alone[i]!.sequences[j]!.score) < 1e-4)));
    assert.ok(batched.every((b) => b.batchSize === sampleInputs.length));
    // Rows finish at different steps: the batch shrinks rather than padding them along.
    assert.ok(new Set(batched.map((b) => b.steps)).size > 1);
  }
});

test('sampling: the same seed gives the same sample, another seed another one', async () => {
  const options = { maxNewTokens: 20, minNewTokens: 20, doSample: true, temperature: 1.2 };
  const a = await run(merged, sampleInputs.slice(0, 3), { ...options, seed: 42 });
  const b = await run(merged, sampleInputs.slice(0, 3), { ...options, seed: 42 });
  const c = await run(merged, sampleInputs.slice(0, 3), { ...options, seed: 43 });
  assert.deepEqual(tokensOf(a), tokensOf(b));
  assert.notDeepEqual(tokensOf(a), tokensOf(c));
  // Sampling strays from the greedy path; topK 1 is greedy again.
  const greedy = await run(merged, sampleInputs.slice(0, 3), { maxNewTokens: 20, minNewTokens: 20 });
  assert.notDeepEqual(tokensOf(a), tokensOf(greedy));
  assert.deepEqual(tokensOf(await run(merged, sampleInputs.slice(0, 3), { ...options, seed: 42, topK: 1 })), tokensOf(greedy));
});

test('merged and split decoder exports of the same weights give identical outputs', async () => {
  for (const options of [{ maxNewTokens: 20 }, { maxNewTokens: 20, numBeams: 4, numReturnSequences: 4 }] satisfies GenerateOptions[]) {
    const a = await run(merged, sampleInputs, options);
    const b = await run(split, sampleInputs, options);
    assert.deepEqual(a.map((r) => r.sequences), b.map((r) => r.sequences));
  }
});

test('the fp16 export runs and mostly agrees with fp32', async () => {
  const half = await Seq2SeqModel.load({ modelDir: fixture.dir, precision: 'fp16', sessionOptions: { intraOpNumThreads: 1 } });
  try {
    assert.match(half.files[0]!, /encoder_model_fp16\.onnx$/);
    const h = await run(half, sampleInputs, { maxNewTokens: 10, numBeams: 2 });
    const f = await run(merged, sampleInputs, { maxNewTokens: 10, numBeams: 2 });
    assert.ok(h.every((r) => r.sequences[0]!.tokens.length > 0 && Number.isFinite(r.sequences[0]!.score)));
    const sameFirstTokens = h.filter((r, i) => r.sequences[0]!.tokens[0] === f[i]!.sequences[0]!.tokens[0]).length;
    assert.ok(sameFirstTokens >= sampleInputs.length / 2, `${sameFirstTokens} of ${sampleInputs.length}`);
  } finally {
    await half.close();
  }
});

test('a canceled request leaves the batch with code canceled; the others finish', async () => {
  let steps = 0;
  const requests = sampleInputs.slice(0, 3).map((inputIds, i) => ({
    inputIds,
    options: resolveOptions({ maxNewTokens: 30, minNewTokens: 30 }, merged.generation),
    onStep: i === 1 ? () => void steps++ : undefined,
    isCanceled: i === 1 ? () => steps >= 3 : undefined,
  }));
  const results = await generateBatch(merged, requests);
  assert.ok(results[1] instanceof Error);
  assert.equal((results[1] as Error & { code: string }).code, 'canceled');
  assert.equal(steps, 3);
  for (const i of [0, 2]) assert.equal((results[i] as GenerationResult).sequences[0]!.tokens.length, 30);
});

test('graphs at the folder root load like those under onnx/', async () => {
  const root = await tinyT5({ tokenizer: false, folder: '.', layouts: ['split'], precisions: ['fp32'] });
  try {
    const model = await Seq2SeqModel.load({ modelDir: root.dir });
    assert.equal(model.layout, 'split');
    assert.deepEqual(tokensOf(await run(model, sampleInputs, { maxNewTokens: 10 })), tokensOf(await run(merged, sampleInputs, { maxNewTokens: 10 })));
    await model.close();
  } finally {
    await root.cleanup();
  }
});

test('int8 picks the _quantized files (float32 I/O)', async () => {
  const dir = await tinyT5({ tokenizer: false, layouts: ['merged'], precisions: ['fp32'] });
  try {
    // The quantized export has the fp32 interface; a copy of the fp32 graphs stands in for it.
    for (const name of ['encoder_model', 'decoder_model_merged']) await copyFile(`${dir.dir}/onnx/${name}.onnx`, `${dir.dir}/onnx/${name}_quantized.onnx`);
    const model = await Seq2SeqModel.load({ modelDir: dir.dir, precision: 'int8' });
    assert.match(model.files[0]!, /encoder_model_quantized\.onnx$/);
    assert.deepEqual(tokensOf(await run(model, sampleInputs, { maxNewTokens: 5 })), tokensOf(await run(merged, sampleInputs, { maxNewTokens: 5 })));
    await model.close();
  } finally {
    await dir.cleanup();
  }
});

test('missing files are reported as model_missing', async () => {
  await assert.rejects(Seq2SeqModel.load({ modelDir: `${fixture.dir}/nope` }), { code: 'model_missing' });
});
