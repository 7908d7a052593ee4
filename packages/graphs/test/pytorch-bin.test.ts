// The same builders fed from the pytorch_model.bin PyTorch wrote (torch.save of the state dict,
// tied weights saved under every name that shares them) write exactly the files they write from
// model.safetensors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeT5 } from '../src/t5.ts';
import { writeEncoderClassifier } from '../src/encoder-classifier.ts';
import { writeClipTextEncoder } from '../src/clip-text.ts';
import type { WeightRequest, WeightSource } from '../src/weights.ts';
import { fixtureConfig, fixturePath, readerWeights, withCheckpoint } from './text-fixtures.ts';

const dir = await mkdtemp(join(tmpdir(), 'graphs-bin-'));
after(() => rm(dir, { recursive: true, force: true }));

type Writer = (out: string, config: Record<string, unknown>, weights: WeightSource) => Promise<{ paths: string[]; requested: WeightRequest[] }>;
const t5: Writer = async (out, config, weights) => {
  const written = await writeT5(out, config, weights, { parts: ['encoder_model', 'decoder_model_merged'], precision: 'fp16' });
  return { paths: written.files.map((f) => f.path), requested: written.requested };
};
const classifier: Writer = async (out, config, weights) => {
  const written = await writeEncoderClassifier(join(out, 'model.onnx'), config, weights);
  return { paths: [written.file.path], requested: written.requested };
};
const clip: Writer = async (out, config, weights) => {
  const written = await writeClipTextEncoder(join(out, 'model.onnx'), config, weights);
  return { paths: [written.file.path], requested: written.requested };
};

// Entries of the .bin that no graph reads: tied weights PyTorch saves under each of their names
// (safetensors keeps one), as transformers' `_tied_weights_keys` lists them.
const cases: { model: string; write: Writer; aliases: string[] }[] = [
  { model: 't5-tiny', write: t5, aliases: ['decoder.embed_tokens.weight', 'encoder.embed_tokens.weight', 'lm_head.weight'] },
  { model: 't5-v1_1-tiny', write: t5, aliases: ['decoder.embed_tokens.weight', 'encoder.embed_tokens.weight'] },
  { model: 'bertweet-tiny', write: classifier, aliases: [] },
  { model: 'bert-tiny', write: classifier, aliases: [] },
  { model: 'clip-text-tiny', write: clip, aliases: [] },
];

for (const { model, write, aliases } of cases) {
  test(`${model}: converted from pytorch_model.bin, the graphs are byte for byte those from model.safetensors`, async () => {
    const config = await fixtureConfig(model);
    const [fromBin, binNames] = await withCheckpoint(fixturePath(model, 'pytorch_model.bin'), async (reader) => {
      assert.equal(reader.format, 'pytorch-zip');
      return [await write(join(dir, model, 'bin'), config, readerWeights(reader)), reader.tensors().map((t) => t.name)] as const;
    });
    const fromSafetensors = await withCheckpoint(fixturePath(model, 'model.safetensors'), (reader) => write(join(dir, model, 'safetensors'), config, readerWeights(reader)));
    for (const [i, path] of fromBin.paths.entries()) assert.ok((await readFile(path)).equals(await readFile(fromSafetensors.paths[i]!)), path);
    const unread = binNames.filter((name) => !fromBin.requested.some((r) => r.name === name)).sort();
    assert.deepEqual(unread, aliases);
  });
}
