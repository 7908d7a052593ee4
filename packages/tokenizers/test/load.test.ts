// loadTokenizer's choice among the file sets model repositories publish, and the readers behind it.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { CuratorError } from '@curator/contracts';
import { tokenizersReferenceDir } from '@curator/reference';
import { loadTokenizer, readSentencePieceModel, TOKENIZER_FILE_SETS, writeSentencePieceModel } from '../src/index.ts';
import { PrecompiledCharsmap } from '../src/precompiled-charsmap.ts';

const reference = (...parts: string[]): string => join(tokenizersReferenceDir, ...parts);
const folders: string[] = [];
after(() => Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A model folder holding the given files, named as they will be there, from the reference files. */
async function folderWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'curator-tokenizer-files-'));
  folders.push(dir);
  for (const [name, source] of Object.entries(files)) {
    if (source.endsWith('.gz')) await writeFile(join(dir, name), gunzipSync(await readFile(reference(source))));
    else await copyFile(reference(source), join(dir, name));
  }
  return dir;
}

const CLIP = { 'vocab.json': 'clip/vocab.json', 'merges.txt': 'clip/merges.txt', 'tokenizer_config.json': 'clip/tokenizer_config.json', 'special_tokens_map.json': 'clip/special_tokens_map.json' };
const T5 = { 'spiece.model': 't5/spiece.model', 'tokenizer_config.json': 't5/tokenizer_config.json' };
const BERTWEET = { 'vocab.txt': 'bertweet/vocab.txt', 'bpe.codes': 'bertweet/bpe.codes', 'tokenizer_config.json': 'bertweet/tokenizer_config.json' };
const BERT = { 'vocab.txt': 'bert/vocab.txt', 'tokenizer_config.json': 'bert/tokenizer_config.json' };

describe('loadTokenizer picks the tokenizer from the files present', () => {
  it('looks in the documented order', () => {
    assert.deepEqual(
      TOKENIZER_FILE_SETS.map((set) => set.source),
      ['tokenizer.json', 'spiece.model', 'vocab.json+merges.txt', 'vocab.txt+bpe.codes', 'vocab.txt'],
    );
  });

  it('prefers tokenizer.json over spiece.model (t5-small publishes both)', async () => {
    const tokenizer = await loadTokenizer(await folderWith({ ...T5, 'tokenizer.json': 't5-json/tokenizer.json.gz' }));
    assert.equal(tokenizer.source, 'tokenizer.json');
    assert.equal(tokenizer.kind, 'huggingface');
  });

  it('reads spiece.model alone as T5', async () => {
    const tokenizer = await loadTokenizer(await folderWith({ 'spiece.model': 't5/spiece.model' }));
    assert.equal(tokenizer.source, 'spiece.model');
    const pieces = readSentencePieceModel(await readFile(reference('t5/spiece.model'))).pieces.length;
    // Without tokenizer_config.json: T5Tokenizer's defaults, 100 sentinels after the pieces, <extra_id_0> last.
    assert.deepEqual(tokenizer.encode('<extra_id_0>', { addSpecialTokens: false }).inputIds, [pieces + 99]);
    assert.deepEqual(tokenizer.encode('<extra_id_99>', { addSpecialTokens: false }).inputIds, [pieces]);
    assert.equal(tokenizer.eosTokenId, 1);
  });

  it('reads vocab.json + merges.txt as CLIP, with <|endoftext|> as its pad token', async () => {
    const tokenizer = await loadTokenizer(await folderWith(CLIP));
    assert.equal(tokenizer.source, 'vocab.json+merges.txt');
    const vocab = JSON.parse(await readFile(reference('clip/vocab.json'), 'utf8')) as Record<string, number>;
    assert.equal(tokenizer.padTokenId, vocab['<|endoftext|>']);
    assert.equal(tokenizer.bosTokenId, vocab['<|startoftext|>']);
    assert.equal(tokenizer.modelMaxLength, 77);
  });

  it('reads vocab.txt + bpe.codes as BERTweet and vocab.txt alone as BERT', async () => {
    assert.equal((await loadTokenizer(await folderWith(BERTWEET))).source, 'vocab.txt+bpe.codes');
    const bert = await loadTokenizer(await folderWith(BERT));
    assert.equal(bert.source, 'vocab.txt');
    assert.deepEqual([bert.padTokenId, bert.unkTokenId, bert.modelMaxLength], [0, 6, 512]);
  });

  it('ignores an incomplete set and names every set when none is complete', async () => {
    const onlyVocab = await folderWith({ 'vocab.json': 'clip/vocab.json' });
    await assert.rejects(loadTokenizer(onlyVocab), (error: unknown) => {
      assert.ok(error instanceof CuratorError && error.code === 'model_missing');
      for (const file of ['tokenizer.json', 'spiece.model', 'vocab.json + merges.txt', 'vocab.txt + bpe.codes', 'vocab.txt']) assert.match(error.message, new RegExp(file.replaceAll('.', '\\.').replaceAll('+', '\\+')));
      return true;
    });
  });

  it('refuses a file that is not what its name says, naming it', async () => {
    const dir = await folderWith({});
    await writeFile(join(dir, 'spiece.model'), 'not a protobuf at all');
    await assert.rejects(loadTokenizer(dir), (error: unknown) => error instanceof CuratorError && error.code === 'model_load_failed' && /spiece\.model/.test(error.message));
    const clip = await folderWith({ 'merges.txt': 'clip/merges.txt' });
    await writeFile(join(clip, 'vocab.json'), '["a list"]');
    await assert.rejects(loadTokenizer(clip), (error: unknown) => error instanceof CuratorError && error.code === 'model_load_failed' && /vocab\.json/.test(error.message));
    const badMerges = await folderWith({ 'vocab.json': 'clip/vocab.json' });
    await writeFile(join(badMerges, 'merges.txt'), '#version: 0.2\nt h\nthree parts here\n');
    await assert.rejects(loadTokenizer(badMerges), (error: unknown) => error instanceof CuratorError && /merges\.txt line 3/.test((error as Error).message));
  });
});

describe('CLIP for Stable Diffusion: 77 ids', () => {
  it('starts with <|startoftext|>, keeps <|endoftext|> last when truncating and pads with it', async () => {
    const tokenizer = await loadTokenizer(await folderWith(CLIP));
    const long = Array.from({ length: 120 }, () => 'photo').join(' ');
    const [short, truncated] = tokenizer.encodeBatch(['a photo', long], { maxLength: 77, padTo: 77 }).inputIds;
    const start = tokenizer.bosTokenId!;
    const end = tokenizer.eosTokenId!;
    assert.equal(truncated!.length, 77);
    assert.equal(truncated![0], start);
    assert.equal(truncated![76], end);
    assert.equal(short!.length, 77);
    assert.deepEqual(short!.slice(0, 1), [start]);
    const words = tokenizer.encode('a photo', { addSpecialTokens: false }).inputIds;
    assert.deepEqual(short!.slice(1 + words.length), new Array(77 - 1 - words.length).fill(end));
  });
});

describe('SentencePiece model files', () => {
  it('reads what the SentencePiece trainer wrote and writes it back the same', async () => {
    const bytes = await readFile(reference('t5/spiece.model'));
    const model = readSentencePieceModel(bytes);
    assert.ok(model.pieces.length > 400);
    assert.equal(model.trainerSpec.vocabSize, model.pieces.length);
    assert.deepEqual(model.pieces.slice(0, 3), [
      { piece: '<pad>', score: 0, type: 'control' },
      { piece: '</s>', score: 0, type: 'control' },
      { piece: '<unk>', score: 0, type: 'unknown' },
    ]);
    assert.deepEqual(
      [model.trainerSpec.modelType, model.trainerSpec.padId, model.trainerSpec.eosId, model.trainerSpec.unkId, model.trainerSpec.bosId],
      ['unigram', 0, 1, 2, -1],
    );
    assert.equal(model.normalizerSpec.name, 'nmt_nfkc');
    assert.ok(model.normalizerSpec.precompiledCharsmap.length > 200_000);
    assert.deepEqual(readSentencePieceModel(writeSentencePieceModel(model)), model);
  });

  it('applies the nmt_nfkc charsmap: full-width forms, ligatures and odd spaces', async () => {
    const charsmap = new PrecompiledCharsmap(readSentencePieceModel(await readFile(reference('t5/spiece.model'))).normalizerSpec.precompiledCharsmap);
    const utf8 = (text: string) => new TextEncoder().encode(text);
    assert.equal(charsmap.transform(utf8('Ａ')), 'A');
    assert.equal(charsmap.transform(utf8('ﬁ')), 'fi');
    assert.equal(charsmap.transform(utf8('\u3000')), ' ');
    assert.equal(charsmap.transform(utf8('a')), undefined);
  });

  it('refuses a charsmap whose trie does not fit', () => {
    const broken = new Uint8Array(16);
    new DataView(broken.buffer).setUint32(0, 1024, true);
    assert.throws(() => new PrecompiledCharsmap(broken), (error: unknown) => error instanceof CuratorError && error.code === 'model_load_failed');
  });
});
