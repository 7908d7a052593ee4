// The CLIP and T5 tokenizer files of the generated test models: the files the real repositories
// publish (Stable Diffusion: no tokenizer.json), and Curator's tokenizers load them.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadTokenizer, readSentencePieceModel } from '@curator/tokenizers';
import { clipMaxLength, writeClipTokenizer } from '../src/test-set/clip-tokenizer.ts';
import { t5TokenizerVocab, writeT5Tokenizer } from '../src/test-set/t5-tokenizer.ts';

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'curator-tokenizer-writer-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("CLIP: Stable Diffusion's tokenizer/ files, read as CLIP and padded to 77 with <|endoftext|>", async () => {
  await withDir(async (dir) => {
    const { vocabSize, startId, endId } = await writeClipTokenizer(dir);
    assert.deepEqual((await readdir(dir)).sort(), ['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json']);
    const tokenizer = await loadTokenizer(dir);
    assert.equal(tokenizer.source, 'vocab.json+merges.txt');
    assert.deepEqual([tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId, tokenizer.modelMaxLength], [startId, endId, endId, clipMaxLength]);
    const words = tokenizer.encode('A Photo of the City at night', { addSpecialTokens: false }).inputIds;
    assert.ok(words.length > 0 && words.every((id) => id < startId));
    const row = tokenizer.encodeBatch(['A Photo of the City at night'], { maxLength: clipMaxLength, padTo: clipMaxLength }).inputIds[0]!;
    assert.deepEqual(row, [startId, ...words, endId, ...new Array(clipMaxLength - words.length - 2).fill(endId)]);
    assert.equal(vocabSize, endId + 1);
    assert.equal(tokenizer.decode(row, { skipSpecialTokens: true }), 'a photo of the city at night');
  });
});

test('T5: spiece.model with the nmt_nfkc rules and the pieces, the tokenizer.json made from it, tokenizer_config.json', async () => {
  await withDir(async (dir) => {
    await writeT5Tokenizer(dir, { vocabSize: 300 });
    assert.deepEqual((await readdir(dir)).sort(), ['special_tokens_map.json', 'spiece.model', 'tokenizer.json', 'tokenizer_config.json']);
    const model = readSentencePieceModel(await readFile(join(dir, 'spiece.model')));
    assert.deepEqual(
      model.pieces.map((piece) => [piece.piece, piece.score]),
      t5TokenizerVocab(300).map(([piece, score]) => [piece, Math.fround(score)]),
    );
    assert.deepEqual(model.pieces.slice(0, 3).map((piece) => piece.type), ['control', 'control', 'unknown']);
    assert.equal(model.normalizerSpec.name, 'nmt_nfkc');
    const fromJson = await loadTokenizer(dir);
    assert.equal(fromJson.source, 'tokenizer.json');
    await rm(join(dir, 'tokenizer.json'));
    // A repository with spiece.model alone gives the same tokenizer.
    const tokenizer = await loadTokenizer(dir);
    assert.equal(tokenizer.source, 'spiece.model');
    assert.deepEqual([tokenizer.padTokenId, tokenizer.eosTokenId, tokenizer.unkTokenId, tokenizer.modelMaxLength], [0, 1, 2, 512]);
    for (const text of ['summarize: the government said', 'The report, in 2024!', 'ｔｈｅ\u3000news']) {
      assert.deepEqual(tokenizer.encode(text).inputIds, fromJson.encode(text).inputIds, text);
    }
    // The charsmap at work: full-width letters and the ideographic space are NFKC-folded first.
    assert.deepEqual(tokenizer.encode('ｔｈｅ\u3000news').inputIds, tokenizer.encode('the news').inputIds);
    assert.equal(tokenizer.decode(tokenizer.encode('summarize: the government said').inputIds, { skipSpecialTokens: true }), 'summarize: the government said');
    assert.ok(tokenizer.encode('The report, in 2024!').inputIds.every((id) => id !== tokenizer.unkTokenId && id < 300));
  });
});
