import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CuratorError } from '@curator/contracts';
import { ensureTestModels } from '@curator/models';
import { Classifier, taskLabels, type ClassificationResult } from '../src/index.ts';

const dir = await mkdtemp(join(tmpdir(), 'curator-classifier-'));
// The test set's BERTweet-like sentiment model and BERT genre model (@curator/models).
const { sentiment: sentimentDir, genre: genreDir } = await ensureTestModels(dir, ['sentiment', 'genre']);

const texts = [
  'Shares in the chipmaker rose sharply after record quarterly profits.',
  'The striker scored twice as the home side won the cup final.',
  'What a terrible, awful day. Everything went wrong :(',
  'Parliament votes on the new budget tomorrow.',
  'I love this phone! @friend check it out https://example.com #happy',
];

const loaded: Classifier[] = [];
async function load(task: 'sentiment' | 'genre', precision: 'fp32' | 'fp16' = 'fp32'): Promise<Classifier> {
  const classifier = await Classifier.load({ modelDir: task === 'sentiment' ? sentimentDir : genreDir, modelId: `test/${task}`, task, precision, maxBatchSize: 3 });
  loaded.push(classifier);
  return classifier;
}

const sentiment = await load('sentiment');
const genre = await load('genre');

test.after(async () => {
  await Promise.all(loaded.map((c) => c.close()));
  await rm(dir, { recursive: true, force: true });
});

function assertWellFormed(results: ClassificationResult[], task: 'sentiment' | 'genre', count: number) {
  assert.equal(results.length, count);
  for (const result of results) {
    assert.deepEqual(Object.keys(result.scores).sort(), [...taskLabels[task]].sort());
    const sum = Object.values(result.scores).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-9, `scores sum to ${sum}`);
    for (const score of Object.values(result.scores)) assert.ok(score > 0 && score < 1);
    const best = Object.entries(result.scores).sort((a, b) => b[1] - a[1])[0]![0];
    assert.equal(result.label, best);
    assert.ok(result.tokens > 2 && result.tokens <= result.limit);
    assert.equal(result.truncated, false);
    assert.equal(result.originalTokens, result.tokens);
  }
}

test('the sentiment model maps NEG/NEU/POS to negative/neutral/positive', async () => {
  assert.deepEqual(sentiment.info.labels, ['negative', 'neutral', 'positive']);
  assert.equal(sentiment.info.task, 'sentiment');
  assert.equal(sentiment.info.modelId, 'test/sentiment');
  assert.equal(sentiment.info.precision, 'fp32');
  assert.deepEqual(sentiment.info.inputNames, ['input_ids', 'attention_mask']);
  assert.equal(sentiment.info.limit, 128);
  assertWellFormed(await sentiment.classify(texts), 'sentiment', texts.length);
});

test('the genre model returns the five BBC labels and is fed token_type_ids', async () => {
  assert.deepEqual(genre.info.labels, ['business', 'entertainment', 'politics', 'sport', 'tech']);
  assert.deepEqual(genre.info.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
  assertWellFormed(await genre.classify(texts), 'genre', texts.length);
});

test('different texts get different scores', async () => {
  const results = await sentiment.classify(texts);
  const distinct = new Set(results.map((r) => r.scores.positive!.toFixed(6)));
  assert.equal(distinct.size, texts.length);
});

test('batched results (padded, split into batches of 3) equal one-by-one results', async () => {
  for (const classifier of [sentiment, genre]) {
    const batched = await classifier.classify(texts);
    for (const [i, text] of texts.entries()) {
      const [alone] = await classifier.classify([text]);
      assert.equal(batched[i]!.label, alone!.label);
      assert.equal(batched[i]!.tokens, alone!.tokens);
      for (const [label, score] of Object.entries(alone!.scores)) {
        assert.ok(Math.abs(batched[i]!.scores[label]! - score) < 1e-5, `${classifier.info.task} text ${i} ${label}: ${batched[i]!.scores[label]} vs ${score}`);
      }
    }
  }
});

test('a long text is truncated to the token window and says so', async () => {
  const long = Array.from({ length: 300 }, (_, i) => `word${i % 17} news`).join(' ');
  for (const classifier of [sentiment, genre]) {
    const [result, short] = await classifier.classify([long, 'A short one.']);
    assert.equal(result!.truncated, true);
    assert.equal(result!.limit, classifier.info.limit);
    assert.equal(result!.tokens, result!.limit);
    assert.ok(result!.originalTokens > result!.limit, `${result!.originalTokens} > ${result!.limit}`);
    assert.equal(short!.truncated, false);
  }
});

test('an empty list gives an empty list; a non-string is bad_input', async () => {
  assert.deepEqual(await sentiment.classify([]), []);
  await assert.rejects(sentiment.classify([42 as unknown as string]), (error: unknown) => error instanceof CuratorError && error.code === 'bad_input');
});

test('warmup runs the model and returns its time', async () => {
  const ms = await genre.warmup();
  assert.equal(typeof ms, 'number');
  assert.ok(ms >= 0);
});

test('an aborted classify is canceled', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(sentiment.classify(texts, { signal: controller.signal }), (error: unknown) => error instanceof CuratorError && error.code === 'canceled');
  assert.equal((await sentiment.classify(['still works'])).length, 1);
});

test('the fp16 models give the same labels as fp32 and nearly the same scores', async () => {
  for (const task of ['sentiment', 'genre'] as const) {
    const fp16 = await load(task, 'fp16');
    assert.equal(fp16.info.precision, 'fp16');
    assert.equal(fp16.info.modelFile, 'model_fp16.onnx');
    const half = await fp16.classify(texts);
    const full = await (task === 'sentiment' ? sentiment : genre).classify(texts);
    for (const [i, result] of half.entries()) {
      assert.equal(result.label, full[i]!.label, `${task} text ${i}`);
      for (const [label, score] of Object.entries(result.scores)) assert.ok(Math.abs(score - full[i]!.scores[label]!) < 0.02, `${task} text ${i} ${label}`);
    }
  }
});

test('a missing model folder or file fails with model_missing naming the file', async () => {
  await assert.rejects(Classifier.load({ modelDir: join(dir, 'nowhere'), modelId: 'test/nowhere', task: 'sentiment' }), (error: unknown) => {
    assert.ok(error instanceof CuratorError);
    assert.equal(error.code, 'model_missing');
    assert.match(error.message, /config\.json/);
    assert.match(error.message, /model\.onnx/);
    return true;
  });
  // A folder with weights and config but no tokenizer.
  const untokenized = join(dir, 'untokenized');
  await mkdir(untokenized);
  for (const file of ['config.json', 'model.onnx']) await copyFile(join(sentimentDir, file), join(untokenized, file));
  await assert.rejects(Classifier.load({ modelDir: untokenized, modelId: 'test/untokenized', task: 'sentiment' }), (error: unknown) => {
    assert.ok(error instanceof CuratorError);
    assert.equal(error.code, 'model_missing');
    assert.match(error.message, /vocab\.txt/);
    return true;
  });
  // A folder with config and tokenizer but no fp16 weights.
  const partial = join(dir, 'partial');
  await mkdir(partial);
  for (const file of ['config.json', 'tokenizer.json']) await copyFile(join(genreDir, file), join(partial, file));
  await assert.rejects(Classifier.load({ modelDir: partial, modelId: 'test/partial', task: 'genre', precision: 'fp16' }), (error: unknown) => {
    assert.ok(error instanceof CuratorError);
    assert.equal(error.code, 'model_missing');
    assert.match(error.message, /model_fp16\.onnx/);
    assert.deepEqual(error.details?.map((d) => d.path), ['model_fp16.onnx']);
    return true;
  });
});

test('a corrupt model file fails with model_load_failed', async () => {
  const corrupt = join(dir, 'corrupt');
  await mkdir(corrupt);
  for (const file of ['config.json', 'vocab.txt', 'bpe.codes']) await copyFile(join(sentimentDir, file), join(corrupt, file));
  await writeFile(join(corrupt, 'model.onnx'), 'not an onnx model');
  await assert.rejects(Classifier.load({ modelDir: corrupt, modelId: 'test/corrupt', task: 'sentiment' }), (error: unknown) => {
    assert.ok(error instanceof CuratorError);
    assert.equal(error.code, 'model_load_failed');
    assert.match(error.message, /model\.onnx/);
    return true;
  });
});
