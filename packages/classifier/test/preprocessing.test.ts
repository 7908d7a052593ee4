// Which text the BERTweet sentiment model sees is a setting (SENTIMENT_PREPROCESSING): pysentimiento's
// preprocessing by default, or the raw text as transformers' pipeline feeds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTestModels } from '@curator/models';
import { preprocessTweet } from '@curator/tokenizers';
import { Classifier } from '../src/index.ts';

const dir = await mkdtemp(join(tmpdir(), 'curator-classifier-preprocessing-'));
const { sentiment: modelDir } = await ensureTestModels(dir, ['sentiment'], { precisions: ['fp32'] });
const load = (preprocessing?: 'pysentimiento' | 'huggingface') =>
  Classifier.load({ modelDir, modelId: 'test/sentiment', task: 'sentiment', ...(preprocessing ? { preprocessing } : {}) });
const [byDefault, authors, pipeline] = await Promise.all([load(), load('pysentimiento'), load('huggingface')]);
test.after(async () => {
  await Promise.all([byDefault, authors, pipeline].map((c) => c.close()));
  await rm(dir, { recursive: true, force: true });
});

const tweet = '@friend I love this phone!!! 😍 https://example.com/review #happy';

test("by default the sentiment model sees the text after its authors' preprocessing (pysentimiento)", async () => {
  const [a] = await byDefault.classify([tweet]);
  const [b] = await authors.classify([tweet]);
  assert.deepEqual(a, b);
  // The same as handing the pipeline mode the text pysentimiento's preprocess_tweet makes of it.
  const [c] = await pipeline.classify([preprocessTweet(tweet)]);
  assert.deepEqual(a, c);
});

test('huggingface: the text as it is, which the model tokenizes differently', async () => {
  const [raw] = await pipeline.classify([tweet]);
  const [preprocessed] = await authors.classify([tweet]);
  assert.notEqual(raw!.tokens, preprocessed!.tokens);
  assert.notDeepEqual(raw!.scores, preprocessed!.scores);
});
