import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CuratorError } from '@curator/contracts';
import { HuggingFaceTokenizer, loadTokenizer, type TextTokenizer } from '../src/index.ts';

const WORDPIECE_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'news', 'is', 'good', '##s', 'play', '##ing', ',', '.', 'a'];

const added = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** A BERT uncased WordPiece tokenizer.json, as `tokenizers` saves one. */
function wordPieceJson(): Record<string, unknown> {
  const vocab = Object.fromEntries(WORDPIECE_VOCAB.map((token, id) => [token, id]));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((token) => added(token, vocab[token]!)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/** A T5-style Unigram tokenizer.json: <pad>=0, </s>=1, <unk>=2, "▁" word starts, </s> appended. */
function unigramJson(): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added('<pad>', 0), added('</s>', 1), added('<unk>', 2)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] },
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', add_prefix_space: true, prepend_scheme: 'always', split: true },
    model: {
      type: 'Unigram',
      unk_id: 2,
      byte_fallback: false,
      vocab: [
        ['<pad>', 0],
        ['</s>', 0],
        ['<unk>', 0],
        ['▁', -3],
        ['▁hello', -2], // 4
        ['▁world', -2], // 5
        ['▁summarize', -2], // 6
        [':', -3], // 7
        ['s', -3], // 8
      ],
    },
  };
}

describe('Hugging Face WordPiece tokenizer (tokenizer.json)', () => {
  let dir: string;
  let tokenizer: TextTokenizer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'curator-wordpiece-'));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(wordPieceJson()));
    await writeFile(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({ do_lower_case: true, model_max_length: 8, pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]' }),
    );
    tokenizer = await loadTokenizer(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('loads the special tokens and the limit from the tokenizer files', () => {
    assert.equal(tokenizer.kind, 'huggingface');
    assert.equal(tokenizer.padTokenId, 0);
    assert.equal(tokenizer.unkTokenId, 1);
    assert.equal(tokenizer.eosTokenId, null);
    assert.equal(tokenizer.bosTokenId, null);
    assert.equal(tokenizer.modelMaxLength, 8);
  });

  it('lowercases, splits punctuation and words into pieces and wraps them in [CLS] ... [SEP]', () => {
    assert.deepEqual(tokenizer.tokenize('The news is Playing.'), ['the', 'news', 'is', 'play', '##ing', '.']);
    assert.deepEqual(tokenizer.encode('The news is good.').inputIds, [2, 5, 6, 7, 8, 13, 3]);
    // "games" has a "g" the vocabulary lacks, so the whole word is [UNK].
    assert.deepEqual(tokenizer.encode('games, a', { addSpecialTokens: false }).inputIds, [1, 12, 14]);
  });

  it('truncates the text and keeps [SEP] last', () => {
    const encoding = tokenizer.encode('the news is good.', { maxLength: 4 });
    assert.deepEqual(encoding.inputIds, [2, 5, 6, 3]);
    assert.equal(encoding.truncated, true);
    assert.equal(encoding.originalLength, 7);
    // Without maxLength the model's own limit (8) applies.
    const long = tokenizer.encode('the news is good, the news is good');
    assert.deepEqual(long.inputIds, [2, 5, 6, 7, 8, 12, 5, 3]);
    assert.equal(long.originalLength, 11);
  });

  it('pads a batch with [PAD]=0 and attention mask 0', () => {
    const batch = tokenizer.encodeBatch(['a', 'the news is good']);
    assert.deepEqual(batch.inputIds, [
      [2, 14, 3, 0, 0, 0],
      [2, 5, 6, 7, 8, 3],
    ]);
    assert.deepEqual(batch.attentionMask, [
      [1, 1, 1, 0, 0, 0],
      [1, 1, 1, 1, 1, 1],
    ]);
    assert.deepEqual(batch.truncated, [false, false]);
  });

  it('decodes, joining ## pieces', () => {
    assert.equal(tokenizer.decode([2, 10, 11, 6, 13, 3], { skipSpecialTokens: true }), 'playing news.');
    assert.equal(tokenizer.decode([2, 14, 3]), '[CLS] a [SEP]');
  });
});

describe('Hugging Face Unigram tokenizer (T5 layout)', () => {
  it('appends </s>, keeps it when truncating and pads with <pad>', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'curator-unigram-'));
    try {
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(unigramJson()));
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', model_max_length: 512 }));
      const tokenizer = await loadTokenizer(dir);
      assert.deepEqual([tokenizer.padTokenId, tokenizer.eosTokenId, tokenizer.unkTokenId, tokenizer.modelMaxLength], [0, 1, 2, 512]);
      assert.deepEqual(tokenizer.tokenize('summarize: hello world'), ['▁summarize', ':', '▁hello', '▁world']);
      assert.deepEqual(tokenizer.encode('summarize: hello world').inputIds, [6, 7, 4, 5, 1]);
      assert.deepEqual(tokenizer.encode('summarize: hello world', { maxLength: 3 }).inputIds, [6, 7, 1]);
      assert.deepEqual(tokenizer.encodeBatch(['hello', 'hello world'], { padTo: 4 }).inputIds, [
        [4, 1, 0, 0],
        [4, 5, 1, 0],
      ]);
      assert.equal(tokenizer.decode([4, 5, 1, 0], { skipSpecialTokens: true }), 'hello world');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('falls back to conventional special tokens when there is no tokenizer_config.json', () => {
    const tokenizer = new HuggingFaceTokenizer(unigramJson());
    assert.deepEqual([tokenizer.padTokenId, tokenizer.eosTokenId, tokenizer.unkTokenId], [0, 1, 2]);
    assert.equal(tokenizer.modelMaxLength, 512);
  });
});

describe('loadTokenizer errors', () => {
  it('reports an unreadable tokenizer.json as model_load_failed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'curator-broken-'));
    try {
      await writeFile(join(dir, 'tokenizer.json'), '{ not json');
      await assert.rejects(loadTokenizer(dir), (error: unknown) => error instanceof CuratorError && error.code === 'model_load_failed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing folder as model_missing', async () => {
    await assert.rejects(loadTokenizer(join(tmpdir(), 'curator-no-such-model-dir')), (error: unknown) => error instanceof CuratorError && error.code === 'model_missing');
  });
});
