import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMinNewTokens, applyNoRepeatNgram, applyRepetitionPenalty, applyTopK, applyTopP, logSoftmax, sampleToken, topEntries, SeededRng } from '../src/logits.ts';
import { resolveOptions, readGenerationConfig, optionsFromParams } from '../src/options.ts';

const scores = (...values: number[]) => Float32Array.from(values);

test('repetition penalty divides positive and multiplies negative scores of seen tokens', () => {
  const s = scores(2, -2, 1);
  applyRepetitionPenalty(s, [0, 1, 1], 2);
  assert.deepEqual([...s], [1, -4, 1]);
});

test('no-repeat n-gram bans the tokens that completed an earlier n-gram with the current prefix', () => {
  const s = scores(0, 0, 0, 0, 0);
  applyNoRepeatNgram(s, [1, 2, 3, 1, 2], 3);
  assert.deepEqual([...s], [0, 0, 0, -Infinity, 0]);
  const bigram = scores(0, 0, 0, 0);
  applyNoRepeatNgram(bigram, [3, 1, 3, 2, 3], 2);
  assert.deepEqual([...bigram], [0, -Infinity, -Infinity, 0]);
});

test('min new tokens masks every end-of-sequence id until reached', () => {
  const s = scores(1, 1, 1);
  applyMinNewTokens(s, 2, 3, [1, 2]);
  assert.deepEqual([...s], [1, -Infinity, -Infinity]);
  const later = scores(1, 1, 1);
  applyMinNewTokens(later, 3, 3, [1]);
  assert.deepEqual([...later], [1, 1, 1]);
});

test('top-k keeps the k best (and ties), top-p the smallest set reaching p', () => {
  const k = scores(1, 5, 3, 3, 0);
  applyTopK(k, 2);
  assert.deepEqual([...k], [-Infinity, 5, 3, 3, -Infinity]);
  // Probabilities 0.5, 0.3, 0.2: p = 0.7 keeps the first two, p = 0.5 the first only.
  const p = scores(Math.log(0.5), Math.log(0.3), Math.log(0.2));
  applyTopP(p, 0.7);
  assert.deepEqual([...p].map((v) => v > -Infinity), [true, true, false]);
  const q = scores(Math.log(0.5), Math.log(0.3), Math.log(0.2));
  applyTopP(q, 0.5);
  assert.deepEqual([...q].map((v) => v > -Infinity), [true, false, false]);
});

test('log-softmax, sampling and the seeded generator', () => {
  const l = logSoftmax(scores(1, 1));
  assert.ok(Math.abs(l[0]! - Math.log(0.5)) < 1e-6);
  assert.equal(sampleToken(scores(0, -Infinity, 0), 0.75), 2);
  assert.equal(sampleToken(scores(0, -Infinity, 0), 0.25), 0);
  const a = new SeededRng(1);
  const b = new SeededRng(1);
  assert.deepEqual([a.next(), a.next()], [b.next(), b.next()]);
  assert.deepEqual(topEntries(scores(1, 3, 3, 2), 3), [{ score: 3, index: 1 }, { score: 3, index: 2 }, { score: 2, index: 3 }]);
});

test('options layer call over stage over generation_config over HF defaults', () => {
  const model = readGenerationConfig({ eos_token_id: 1, pad_token_id: 0, decoder_start_token_id: 0 }, { max_length: 50, num_beams: 2, top_k: 10 });
  assert.deepEqual(model.eosTokenIds, [1]);
  const plain = resolveOptions({}, model);
  assert.equal(plain.maxNewTokens, 49);
  assert.equal(plain.numBeams, 2);
  assert.equal(plain.mode, 'beam');
  const summary = resolveOptions({}, model, 'summarize');
  assert.deepEqual([summary.maxNewTokens, summary.numBeams, summary.lengthPenalty, summary.earlyStopping], [29, 4, 2, true]);
  const headline = resolveOptions(optionsFromParams({ maxTokens: 10 }), model, 'headline');
  assert.deepEqual([headline.maxNewTokens, headline.noRepeatNgramSize, headline.numBeams], [10, 2, 4]);
  const sampled = resolveOptions(optionsFromParams({ doSample: true, temperature: 0.7 }), model, 'summarize');
  assert.deepEqual([sampled.mode, sampled.numBeams, sampled.temperature, sampled.topK], ['sample', 1, 0.7, 10]);
  assert.throws(() => resolveOptions({ numBeams: 2, numReturnSequences: 3 }, model), { code: 'bad_input' });
});
