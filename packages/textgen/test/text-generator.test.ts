import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TextGenerator } from '../src/index.ts';
import type { GenerationProgress } from '../src/engine.ts';
import { tinyT5, sampleInputs } from './fixtures.ts';

let fixture: Awaited<ReturnType<typeof tinyT5>>;
let generator: TextGenerator;

const article =
  'The government said on Monday that the market would open after the report. The minister told reporters ' +
  'that prices were up three percent this week, and the company said it will report its results in May.';

before(async () => {
  fixture = await tinyT5({ precisions: ['fp32'] });
  // A long batching window so that calls made together are sure to share a batch.
  generator = await TextGenerator.load({ modelDir: fixture.dir, modelId: 'tiny-t5', batching: { maxBatchSize: 8, maxDelayMs: 100 }, sessionOptions: { intraOpNumThreads: 1 } });
});
after(async () => {
  await generator?.close();
  await fixture?.cleanup();
});

test('load reports what it loaded', () => {
  assert.equal(generator.info.modelId, 'tiny-t5');
  assert.equal(generator.info.device, 'cpu');
  assert.equal(generator.info.decoder, 'merged');
  assert.equal(generator.info.precision, 'fp32');
  assert.equal(generator.info.modelMaxLength, 512);
});

test('summarize: prefixed input, stage defaults, text and figures', async () => {
  const progress: GenerationProgress[] = [];
  const result = await generator.summarize(article, {}, { onProgress: (p) => progress.push(p) });
  assert.ok(result.text.length > 0);
  assert.equal(result.sequences.length, 1);
  assert.equal(result.limit, 512);
  assert.equal(result.truncated, false);
  assert.equal(result.inputTokens, result.originalTokens);
  assert.ok(result.tokens > 0 && result.tokens <= 29, `${result.tokens} tokens (max length 30 counts the start token)`);
  assert.ok(result.timeToFirstTokenMs >= 0 && result.tokensPerSecond > 0);
  // One progress report per generated step.
  assert.equal(progress.length, result.steps);
  assert.deepEqual(progress.map((p) => p.step), Array.from({ length: result.steps }, (_, i) => i + 1));
  assert.ok(progress.every((p) => p.maxSteps === 29));
  // The prefix is part of the input: a bare generate() of the article sees fewer tokens.
  const bare = await generator.generate(article, { numBeams: 4, lengthPenalty: 2, earlyStopping: true, maxLength: 30 });
  assert.ok(bare.inputTokens < result.inputTokens);
  const prefixed = await generator.generate(`summarize: ${article}`, { numBeams: 4, lengthPenalty: 2, earlyStopping: true, maxLength: 30 });
  assert.equal(prefixed.text, result.text);
});

test('headline: whitespace folded, bigrams never repeat, parameters override the stage', async () => {
  const spaced = article.replace(/ /g, '  \n ');
  const a = await generator.headline(spaced, { maxTokens: 12, numReturnSequences: 2 });
  const b = await generator.headline(article, { maxTokens: 12, numReturnSequences: 2 });
  assert.deepEqual(a.sequences, b.sequences);
  assert.equal(a.sequences.length, 2);
  assert.ok(a.sequences[0]!.score >= a.sequences[1]!.score);
  assert.equal(a.limit, 384);
  for (const s of a.sequences) {
    const ids = [0, ...s.tokens];
    const grams = ids.slice(1).map((t, i) => `${ids[i]},${t}`);
    assert.equal(new Set(grams).size, grams.length);
    assert.ok(s.tokens.length <= 12);
  }
});

test('long articles are truncated to the stage window and say so', async () => {
  const long = Array.from({ length: 300 }, (_, i) => `word${i} the market`).join(' ');
  const summary = await generator.summarize(long, { maxTokens: 5 });
  assert.equal(summary.inputTokens, 512);
  assert.equal(summary.truncated, true);
  assert.ok(summary.originalTokens > 512);
  const headline = await generator.headline(long, { maxTokens: 5 });
  assert.equal(headline.inputTokens, 384);
  assert.equal(headline.truncated, true);
});

test('sampling through the facade: same seed same text', async () => {
  const params = { doSample: true, temperature: 1.5, seed: 7, maxTokens: 20, minTokens: 20 };
  const a = await generator.summarize(article, params);
  const b = await generator.summarize(article, params);
  const c = await generator.summarize(article, { ...params, seed: 8 });
  assert.equal(a.text, b.text);
  assert.notDeepEqual(a.sequences[0]!.tokens, c.sequences[0]!.tokens);
});

test('concurrent calls are micro-batched and give what they give alone', async () => {
  const alone = [];
  for (const inputIds of sampleInputs.slice(0, 5)) alone.push(await generator.generateIds(inputIds, { maxNewTokens: 15, numBeams: 2 }));
  const together = await Promise.all(sampleInputs.slice(0, 5).map((inputIds) => generator.generateIds(inputIds, { maxNewTokens: 15, numBeams: 2 })));
  assert.deepEqual(together.map((r) => r.sequences.map((s) => s.tokens)), alone.map((r) => r.sequences.map((s) => s.tokens)));
  assert.ok(alone.every((r) => r.batchSize === 1));
  assert.ok(together.every((r) => r.batchSize === 5));
  // Different decoding modes do not share a batch.
  const mixed = await Promise.all([generator.generateIds(sampleInputs[0]!, { maxNewTokens: 5 }), generator.generateIds(sampleInputs[1]!, { maxNewTokens: 5, numBeams: 2 })]);
  assert.deepEqual(mixed.map((r) => r.batchSize), [1, 1]);
});

test('an AbortSignal stops generation mid-way with code canceled', async () => {
  const controller = new AbortController();
  const steps: number[] = [];
  await assert.rejects(
    generator.generateIds(sampleInputs[0]!, { maxNewTokens: 200, minNewTokens: 200, numBeams: 4 }, {
      signal: controller.signal,
      onProgress: (p) => {
        steps.push(p.step);
        if (p.step === 3) controller.abort();
      },
    }),
    { code: 'canceled' },
  );
  assert.ok(steps.length >= 3 && steps.length < 200, `${steps.length} steps`);
  // The engine is still serving.
  assert.ok((await generator.generateIds(sampleInputs[0]!, { maxNewTokens: 3 })).tokens > 0);
});

test('bad options are bad_input', async () => {
  await assert.rejects(generator.generateIds(sampleInputs[0]!, { numBeams: 2, numReturnSequences: 3 }), { code: 'bad_input' });
  await assert.rejects(generator.generateIds([], {}), { code: 'bad_input' });
});

test('the summary prefix is applied exactly once, by the stage', async () => {
  const summary = await generator.summarize(article);
  // The same text as the bare model given the prefixed article by hand...
  const byHand = await generator.generate(`summarize: ${article}`, { numBeams: 4, lengthPenalty: 2, earlyStopping: true, maxLength: 30 });
  assert.deepEqual([byHand.inputTokens, byHand.sequences[0]!.tokens], [summary.inputTokens, summary.sequences[0]!.tokens]);
  // ... and generate() with the stage is summarize(): the facade adds no second prefix.
  const staged = await generator.generate(article, { stage: 'summarize' });
  assert.deepEqual([staged.inputTokens, staged.sequences], [summary.inputTokens, summary.sequences]);
  // An article that starts with the prefix gets it once more, as transformers' pipeline does.
  const twice = await generator.summarize(`summarize: ${article}`);
  assert.equal(twice.inputTokens, summary.inputTokens + (summary.inputTokens - (await generator.generate(article, { maxNewTokens: 1 })).inputTokens));
});

test('headlines pad the input to 384 with the attention mask, as the reference does, and get the tokens of no padding', async () => {
  const padded = await generator.headline(article, { numReturnSequences: 4 });
  assert.equal(padded.encoderLength, 384);
  assert.ok(padded.inputTokens < 384);
  const unpadded = await generator.generate(article, { stage: 'headline', padding: 'longest', numReturnSequences: 4 });
  assert.equal(unpadded.encoderLength, unpadded.inputTokens);
  assert.deepEqual(padded.sequences.map((s) => s.tokens), unpadded.sequences.map((s) => s.tokens));
  padded.sequences.forEach((s, i) => assert.ok(Math.abs(s.score - unpadded.sequences[i]!.score) < 1e-4, `${s.score} vs ${unpadded.sequences[i]!.score}`));
  // Summaries do not pad.
  const summary = await generator.summarize(article);
  assert.equal(summary.encoderLength, summary.inputTokens);
});

test('a call canceled while it waits for its batch leaves at once; its batch-mates complete', async () => {
  // Up to 3 calls wait a minute for company: only a full batch (or a cancel) ends the wait.
  const waiting = await TextGenerator.load({ modelDir: fixture.dir, batching: { maxBatchSize: 3, maxDelayMs: 60_000 }, sessionOptions: { intraOpNumThreads: 1 } });
  try {
    const controller = new AbortController();
    const canceled = waiting.generateIds(sampleInputs[0]!, { maxNewTokens: 4 }, { signal: controller.signal });
    const first = waiting.generateIds(sampleInputs[1]!, { maxNewTokens: 4 });
    controller.abort();
    // No batch can start before a third call arrives, and none is made until this rejection: it
    // comes from the cancel itself (without it this would wait forever).
    await assert.rejects(canceled, { code: 'canceled' });
    const rest = await Promise.all([first, waiting.generateIds(sampleInputs[2]!, { maxNewTokens: 4 }), waiting.generateIds(sampleInputs[3]!, { maxNewTokens: 4 })]);
    // The canceled call left the queue: the batch that ran held the other three.
    assert.deepEqual(rest.map((r) => r.batchSize), [3, 3, 3]);
  } finally {
    await waiting.close();
  }
});
