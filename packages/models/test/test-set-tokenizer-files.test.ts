import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadTokenizer, type TextTokenizer } from '@curator/tokenizers';
import { writeBertweetTokenizerFiles, writeBertWordPieceTokenizer } from '../src/test-set/tokenizer-files.ts';

const ENGLISH = [
  'The government said on Tuesday that the company\'s market price rose 3.5% after the report; police in the city (and the state) are investigating.',
  "Fans can't believe it: the team won 2-1 in extra time! Tickets cost $45 - see https://example.com/tickets?id=7 or ask @box_office #finals",
  'Quarterly earnings beat expectations, sending shares of Acme Corp. up 12 percent in early trading on Wall Street.',
];

function unknownCount(tokenizer: TextTokenizer, ids: readonly number[]): number {
  return ids.filter((id) => id === tokenizer.unkTokenId).length;
}

describe('writeBertweetTokenizerFiles', () => {
  let dir: string;
  let vocabSize: number;
  let tokenizer: TextTokenizer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'curator-bertweet-files-'));
    ({ vocabSize } = await writeBertweetTokenizerFiles(dir));
    tokenizer = await loadTokenizer(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes a fairseq vocab.txt and fastBPE bpe.codes that load as a BERTweet tokenizer', async () => {
    assert.equal(tokenizer.kind, 'bertweet');
    assert.equal(tokenizer.padTokenId, 1);
    assert.equal(tokenizer.modelMaxLength, 128);
    const vocabLines = (await readFile(join(dir, 'vocab.txt'), 'utf8')).trimEnd().split('\n');
    assert.ok(vocabLines.every((line) => /^\S+ \d+$/.test(line)));
    // <s>, <pad>, </s>, <unk> before the file's tokens, <mask> after them.
    assert.equal(vocabSize, vocabLines.length + 5);
    assert.ok(vocabSize > 200 && vocabSize < 2000, `vocabSize ${vocabSize}`);
    const codes = (await readFile(join(dir, 'bpe.codes'), 'utf8')).trimEnd().split('\n');
    assert.ok(codes.length > 100 && codes.every((line) => /^\S+ \S+ \d+$/.test(line)));
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    // As finiteautomata/bertweet-base-sentiment-analysis publishes it.
    assert.equal(config.normalization, false);
  });

  it('encodes English text with no unknown token and every id inside the vocabulary', () => {
    for (const text of ENGLISH) {
      const { inputIds } = tokenizer.encode(text);
      assert.equal(unknownCount(tokenizer, inputIds), 0, text);
      assert.ok(inputIds.every((id) => id >= 0 && id < vocabSize - 1));
    }
  });

  it("gives the words of pysentimiento's preprocessing whole tokens: @USER, HTTPURL, hashtag, emoji names", () => {
    const tokens = tokenizer.tokenize('the government said @someone https://example.com/news 😂 #BreakingNews');
    assert.deepEqual(tokens.slice(0, 13), ['the', 'government', 'said', '@USER', 'HTTPURL', 'emoji', 'face', 'with', 'tears', 'of', 'joy', 'emoji', 'hashtag']);
    assert.equal(tokens.slice(13).join(' ').replaceAll('@@ ', ''), 'breaking news');
    // A word outside the list still encodes, in pieces.
    const pieces = tokenizer.tokenize('zebra');
    assert.ok(pieces.length > 1 && pieces.slice(0, -1).every((piece) => piece.endsWith('@@')));
  });

  it("keeps the Hugging Face pipeline's view (the raw text) as an option", async () => {
    const raw = await loadTokenizer(dir, { preprocessing: 'huggingface' });
    assert.ok(raw.tokenize('@someone').length > 1);
    assert.notDeepEqual(raw.encode('@someone 😂').inputIds, tokenizer.encode('@someone 😂').inputIds);
  });

  it('only meets unknown tokens for characters outside ASCII', () => {
    const { inputIds } = tokenizer.encode('café');
    assert.ok(unknownCount(tokenizer, inputIds) >= 1);
  });
});

describe('writeBertWordPieceTokenizer', () => {
  let dir: string;
  let vocabSize: number;
  let tokenizer: TextTokenizer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'curator-wordpiece-files-'));
    ({ vocabSize } = await writeBertWordPieceTokenizer(dir));
    tokenizer = await loadTokenizer(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes a tokenizer.json that loads as a BERT tokenizer with [PAD]=0 and a 512 limit', () => {
    assert.equal(tokenizer.kind, 'huggingface');
    assert.equal(tokenizer.source, 'tokenizer.json');
    assert.equal(tokenizer.padTokenId, 0);
    assert.equal(tokenizer.modelMaxLength, 512);
    assert.ok(vocabSize > 150 && vocabSize < 2000, `vocabSize ${vocabSize}`);
  });

  it('encodes English text (lowercased, accents stripped) with no unknown token', () => {
    for (const text of [...ENGLISH, 'Café NAÏVE']) {
      const { inputIds } = tokenizer.encode(text);
      assert.equal(unknownCount(tokenizer, inputIds), 0, text);
      assert.ok(inputIds.every((id) => id >= 0 && id < vocabSize));
    }
    const encoding = tokenizer.encode('The news');
    assert.equal(encoding.inputIds.length, 4); // [CLS] the news [SEP]
    assert.deepEqual(tokenizer.tokenize('The Government playing'), ['the', 'government', 'p', '##l', '##a', '##y', '##ing']);
  });

  it('writes the vocab.txt the tokenizer.json comes from: both give the same ids', async () => {
    const vocabOnly = await mkdtemp(join(tmpdir(), 'curator-wordpiece-vocab-'));
    try {
      for (const file of ['vocab.txt', 'tokenizer_config.json']) await writeFile(join(vocabOnly, file), await readFile(join(dir, file)));
      const fromVocab = await loadTokenizer(vocabOnly);
      assert.equal(fromVocab.source, 'vocab.txt');
      for (const text of [...ENGLISH, 'Café NAÏVE']) assert.deepEqual(fromVocab.encode(text).inputIds, tokenizer.encode(text).inputIds, text);
    } finally {
      await rm(vocabOnly, { recursive: true, force: true });
    }
  });
});
