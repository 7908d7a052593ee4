// Curator's tokenizers against Hugging Face's own tokenizer classes: the ids transformers 4.57.6
// and 5.18.0 gave for the hard strings of packages/reference/tokenizers/make_fixtures.py, on the
// vocabulary files that script made in the formats the real repositories publish.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { tokenizersReferenceDir } from '@curator/reference';
import { BertweetTokenizer, demojize, loadTokenizer, preprocessTweet, type TextTokenizer, type TokenizerSource } from '../src/index.ts';

interface Row {
  text: string;
  ids: number[];
  decoded: string;
  preprocessed?: string;
}
interface Recorded {
  class: string;
  pad_token_id?: number;
  model_max_length?: number | null;
  strings: Row[];
  batch?: { texts: string[]; max_length: number; input_ids: number[][]; attention_mask: number[][] };
}
type Fixture = Record<string, Recorded>;
interface FixtureFile {
  strings: string[];
  pysentimiento_strings: string[];
  tokenizers: Record<string, Omit<Recorded, 'strings'> & { ids: number[][]; decoded: string[]; preprocessed?: string[] }>;
}

const versions = ['4.57.6', '5.18.0'] as const;
type Version = (typeof versions)[number];
const fixtures = {} as Record<Version, Fixture>;
const scratch: string[] = [];

/** The file's tokenizers with their ids and decodings paired with the strings they are for. */
function rowsOf(file: FixtureFile): Fixture {
  const fixture: Fixture = {};
  for (const [name, { ids, decoded, preprocessed, ...rest }] of Object.entries(file.tokenizers)) {
    const texts = preprocessed ? [...file.strings, ...file.pysentimiento_strings] : file.strings;
    assert.equal(ids.length, texts.length, name);
    fixture[name] = { ...rest, strings: texts.map((text, i) => ({ text, ids: ids[i]!, decoded: decoded[i]!, preprocessed: preprocessed?.[i] })) };
  }
  return fixture;
}

before(async () => {
  for (const version of versions) {
    const file = join(tokenizersReferenceDir, `ids-transformers-${version}.json`);
    fixtures[version] = rowsOf(JSON.parse(await readFile(file, 'utf8')) as FixtureFile);
  }
});
after(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A copy of a reference folder with its gzipped files unpacked, as a model folder would hold them. */
async function modelFolder(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `curator-${name}-`));
  scratch.push(dir);
  await cp(join(tokenizersReferenceDir, name), dir, { recursive: true });
  for (const file of ['tokenizer.json']) {
    const packed = await readFile(join(dir, `${file}.gz`)).catch(() => undefined);
    if (packed) {
      await writeFile(join(dir, file), gunzipSync(packed));
      await rm(join(dir, `${file}.gz`));
    }
  }
  return dir;
}

const UNLIMITED = 1_000_000;
const idsOf = (tokenizer: TextTokenizer, text: string): number[] => tokenizer.encode(text, { maxLength: UNLIMITED }).inputIds;

/** The texts whose ids differ from the recorded ones. */
function differing(tokenizer: TextTokenizer, recorded: Recorded): string[] {
  return recorded.strings.filter((row) => JSON.stringify(idsOf(tokenizer, row.text)) !== JSON.stringify(row.ids)).map((row) => row.text);
}

function assertSameIds(tokenizer: TextTokenizer, recorded: Recorded, label: string): void {
  assert.ok(recorded.strings.length > 40, `${label}: the fixture has its strings`);
  for (const row of recorded.strings) assert.deepEqual(idsOf(tokenizer, row.text), row.ids, `${label}: ${JSON.stringify(row.text)}`);
}

function assertSameDecoding(tokenizer: TextTokenizer, recorded: Recorded, label: string): void {
  for (const row of recorded.strings) {
    if (row.ids.length > 0) assert.equal(tokenizer.decode(row.ids, { skipSpecialTokens: true }), row.decoded, `${label}: ${JSON.stringify(row.text)}`);
  }
}

function assertSameBatch(tokenizer: TextTokenizer, recorded: Recorded, label: string): void {
  const batch = recorded.batch!;
  const ours = tokenizer.encodeBatch(batch.texts, { maxLength: batch.max_length, padTo: batch.max_length });
  assert.deepEqual(ours.inputIds, batch.input_ids, `${label}: padded and truncated ids`);
  assert.deepEqual(ours.attentionMask, batch.attention_mask, `${label}: attention mask`);
  assert.equal(tokenizer.padTokenId, recorded.pad_token_id, `${label}: pad token`);
  if (recorded.model_max_length) assert.equal(tokenizer.modelMaxLength, recorded.model_max_length, `${label}: model_max_length`);
}

// Strings on which the Hugging Face implementations disagree among themselves; Curator follows
// the one named in each describe() and these lists pin where the others differ.
const WHITESPACE_BEYOND_THE_CHARSMAP = [
  'tab\there\nnewline\r\nCRLF\x0bvt\x0cff\u2028ls\u2029ps\x85nel',
  'punctuation runs /\ufeff{: ?\x85! -\u3000- \u200b\'\u2028" (\ufeff)',
  'spaces\u0085a\u00a0b\u1680c\u180ed\u2000e\u200af\u2028g\u202fh\u205fi\u3000j\ufeffk\x1cl\x1fm\x0bn\x0co',
];

describe('CLIP from vocab.json + merges.txt (Stable Diffusion tokenizer/ folder)', () => {
  let tokenizer: TextTokenizer;
  before(async () => {
    tokenizer = await loadTokenizer(await modelFolder('clip'));
  });

  it('is built from those files', () => {
    assert.equal(tokenizer.source, 'vocab.json+merges.txt' satisfies TokenizerSource);
  });

  for (const version of versions) {
    it(`gives transformers ${version}'s fast CLIP tokenizer's ids and text for every string`, () => {
      assertSameIds(tokenizer, fixtures[version]['clip/fast']!, `clip ${version}`);
      assertSameDecoding(tokenizer, fixtures[version]['clip/fast']!, `clip ${version}`);
    });

    it(`pads to 77 with <|endoftext|> and truncates keeping <|endoftext|> last, as transformers ${version}`, () => {
      assertSameBatch(tokenizer, fixtures[version]['clip/fast']!, `clip ${version}`);
    });
  }

  it("differs from transformers 4's Python CLIPTokenizer only where that one differs from the fast one", () => {
    const slow = fixtures['4.57.6']['clip/slow']!;
    const fast = fixtures['4.57.6']['clip/fast']!;
    const slowDiffers = slow.strings.filter((row, i) => JSON.stringify(row.ids) !== JSON.stringify(fast.strings[i]!.ids)).map((row) => row.text);
    // Emoji ZWJ and variation selectors, CJK, control and format characters, Greek final sigma.
    assert.equal(slowDiffers.length, 13);
    assert.deepEqual(differing(tokenizer, slow), slowDiffers);
  });
});

describe('T5 from spiece.model (SentencePiece Unigram, nmt_nfkc charsmap)', () => {
  let tokenizer: TextTokenizer;
  before(async () => {
    tokenizer = await loadTokenizer(await modelFolder('t5'));
  });

  it('is built from spiece.model with the sentinels after the pieces', () => {
    assert.equal(tokenizer.source, 'spiece.model' satisfies TokenizerSource);
    assert.deepEqual([tokenizer.padTokenId, tokenizer.eosTokenId, tokenizer.unkTokenId, tokenizer.modelMaxLength], [0, 1, 2, 512]);
  });

  it("gives transformers 5's T5Tokenizer ids and text for every string", () => {
    assertSameIds(tokenizer, fixtures['5.18.0']['t5/fast']!, 't5 5.18.0');
    assertSameDecoding(tokenizer, fixtures['5.18.0']['t5/fast']!, 't5 5.18.0');
    assertSameBatch(tokenizer, fixtures['5.18.0']['t5/fast']!, 't5 5.18.0');
  });

  it("differs from transformers 4's conversion of spiece.model only on whitespace the charsmap keeps", () => {
    // transformers 4 converts a bare spiece.model with Metaspace alone; 5 (and t5-small's
    // published tokenizer.json) splits on whitespace first, so U+0085 separates words there.
    assert.deepEqual(differing(tokenizer, fixtures['4.57.6']['t5/fast']!), WHITESPACE_BEYOND_THE_CHARSMAP);
    assertSameBatch(tokenizer, fixtures['4.57.6']['t5/fast']!, 't5 4.57.6');
  });

  it("differs from SentencePiece itself (transformers 4's Python T5Tokenizer) where transformers' fast tokenizers do", () => {
    const slowOnly = ['cafe\u0301 re\u0301sume\u0301 e\u0301\u0301 a\u0308', 'Ｈｅｌｌｏ\u0301 full-width with a combining accent'];
    assert.deepEqual(differing(tokenizer, fixtures['4.57.6']['t5/slow']!), [...slowOnly, ...WHITESPACE_BEYOND_THE_CHARSMAP]);
  });
});

describe('BERT from vocab.txt (WordPiece behind the basic tokenizer)', () => {
  for (const [folder, lowercase] of [
    ['bert', true],
    ['bert-cased', false],
  ] as const) {
    it(`${folder}: gives the ids of transformers 4 and 5 (do_lower_case ${lowercase}) for every string`, async () => {
      const tokenizer = await loadTokenizer(await modelFolder(folder));
      assert.equal(tokenizer.source, 'vocab.txt' satisfies TokenizerSource);
      for (const version of versions) {
        assertSameIds(tokenizer, fixtures[version][`${folder}/fast`]!, `${folder} ${version}`);
        assertSameBatch(tokenizer, fixtures[version][`${folder}/fast`]!, `${folder} ${version}`);
      }
      // transformers 4's BertTokenizer decodes with its space clean-up ("it 's" -> "it's").
      assertSameDecoding(tokenizer, fixtures['4.57.6'][`${folder}/fast`]!, `${folder} 4.57.6`);
      // Its Python class keeps unassigned and private-use characters the fast one drops.
      const slowOnly = ['unassigned \u0378 private \ue000 \u{f0000} noncharacter \ufdd0 end'];
      if (!lowercase) slowOnly.unshift('cafe\u0301 re\u0301sume\u0301 e\u0301\u0301 a\u0308');
      assert.deepEqual(differing(tokenizer, fixtures['4.57.6'][`${folder}/slow`]!), slowOnly);
    });
  }
});

describe('tokenizer.json written by transformers', () => {
  for (const folder of ['clip-json', 't5-json', 'bert-json']) {
    it(`${folder}: gives transformers 4's ids for every string`, async () => {
      const tokenizer = await loadTokenizer(await modelFolder(folder));
      assert.equal(tokenizer.source, 'tokenizer.json' satisfies TokenizerSource);
      assertSameIds(tokenizer, fixtures['4.57.6'][`${folder}/fast`]!, `${folder} 4.57.6`);
      assertSameBatch(tokenizer, fixtures['4.57.6'][`${folder}/fast`]!, `${folder} 4.57.6`);
      if (folder !== 'bert-json') assertSameDecoding(tokenizer, fixtures['4.57.6'][`${folder}/fast`]!, `${folder} 4.57.6`);
      // transformers 5 ignores the pipeline a T5 tokenizer.json states and builds its own.
      assert.deepEqual(differing(tokenizer, fixtures['5.18.0'][`${folder}/fast`]!), folder === 't5-json' ? WHITESPACE_BEYOND_THE_CHARSMAP : []);
    });
  }
});

describe('BERTweet from vocab.txt + bpe.codes', () => {
  // Curator never turns literal special-token text in an article into special tokens.
  const LITERAL_SPECIALS = '<s> </s> <pad> <unk> <mask> [CLS] [SEP] [PAD] [MASK] [UNK]';
  let dir: string;
  before(async () => {
    dir = await modelFolder('bertweet');
  });

  for (const version of versions) {
    it(`preprocessing 'pysentimiento' (the default): pysentimiento's text, then transformers ${version}'s ids`, async () => {
      const tokenizer = await loadTokenizer(dir);
      assert.equal(tokenizer.source, 'vocab.txt+bpe.codes' satisfies TokenizerSource);
      const recorded = fixtures[version]['bertweet/pysentimiento']!;
      for (const row of recorded.strings) assert.equal(preprocessTweet(row.text), row.preprocessed, JSON.stringify(row.text));
      assert.deepEqual(differing(tokenizer, recorded), [LITERAL_SPECIALS]);
    });

    it(`preprocessing 'huggingface': the raw text, as transformers ${version}'s pipeline with "normalization": false`, async () => {
      const tokenizer = await loadTokenizer(dir, { preprocessing: 'huggingface' });
      const recorded = fixtures[version]['bertweet/huggingface']!;
      assert.deepEqual(differing(tokenizer, recorded), [LITERAL_SPECIALS]);
      assertSameBatch(tokenizer, recorded, `bertweet ${version}`);
    });

    it(`BERTweet's own normalization matches transformers ${version}'s normalization=True`, async () => {
      const files = await Promise.all(['vocab.txt', 'bpe.codes'].map((file) => readFile(join(dir, file), 'utf8')));
      const tokenizer = BertweetTokenizer.fromFiles(files[0]!, files[1]!, { normalization: true });
      assert.deepEqual(differing(tokenizer, fixtures[version]['bertweet/normalization']!), [LITERAL_SPECIALS]);
    });
  }

  it('the two modes see different text for a tweet', async () => {
    const tweet = 'Loving it 😍 #BestDayEver @friend https://t.co/abc';
    const authors = await loadTokenizer(dir);
    const pipeline = await loadTokenizer(dir, { preprocessing: 'huggingface' });
    assert.equal(preprocessTweet(tweet), 'Loving it  emoji smiling face with heart-eyes emoji  hashtag best day ever @USER HTTPURL');
    assert.notDeepEqual(authors.encode(tweet).inputIds, pipeline.encode(tweet).inputIds);
  });
});

describe("demojize: Python emoji's names and sequences", () => {
  it('names every emoji of emoji 2.16 and its sequences as emoji.demojize does', async () => {
    const recorded = JSON.parse(gunzipSync(await readFile(join(tokenizersReferenceDir, 'emoji-demojize.json.gz'))).toString('utf8')) as {
      demojized: [string, string][];
    };
    assert.ok(recorded.demojized.length > 5000);
    for (const [text, expected] of recorded.demojized) assert.equal(demojize(text, ['|', '|']), expected, JSON.stringify(text));
  });
});
