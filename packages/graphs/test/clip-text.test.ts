// The CLIP text encoder builder against transformers' own CLIPTextModel (Stable Diffusion v1's text
// encoder shape, tiny).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import { writeClipTextEncoder, clipTextWeightRequests, parseClipTextConfig, type ClipTextGraphOptions } from '../src/clip-text.ts';
import { fixtureConfig, fixturePath, floats, int64, maxAbs, maxAbsDiff, readerWeights, readTensors, report, session, tensor, withCheckpoint } from './text-fixtures.ts';

const dir = await mkdtemp(join(tmpdir(), 'graphs-clip-'));
after(() => rm(dir, { recursive: true, force: true }));
const model = 'clip-text-tiny';
const out = await readTensors(fixturePath(model, 'outputs.safetensors'));

// fp32: measured max |diff| 1.9e-6 on states up to ~4; fp16: about 7e-3.
const tolerances = { fp32: 1e-5, fp16: 3e-2 } as const;

async function build(name: string, config: Record<string, unknown>, options: ClipTextGraphOptions): Promise<ort.InferenceSession> {
  const written = await withCheckpoint(fixturePath(model, 'model.safetensors'), (reader) => writeClipTextEncoder(join(dir, name, 'model.onnx'), config, readerWeights(reader), options));
  return session(written.file.path);
}

function check(label: string, actual: ort.Tensor, expected: Float32Array, tolerance: number): void {
  const diff = maxAbsDiff(floats(actual), expected);
  report(`${label} max |diff| (values up to ${maxAbs(expected).toFixed(1)})`, diff);
  assert.ok(diff <= tolerance, `${label}: ${diff}`);
}

for (const precision of ['fp32', 'fp16'] as const) {
  test(`${precision}: last_hidden_state and pooler_output equal transformers' (77 tokens, legacy end-of-text pooling) and for a shorter batch`, async () => {
    const s = await build(precision, await fixtureConfig(model), { precision });
    try {
      assert.deepEqual(s.inputNames, ['input_ids']);
      assert.deepEqual(s.outputNames, ['last_hidden_state', 'pooler_output']);
      for (const meta of s.outputMetadata) assert.equal(meta.isTensor && meta.type, precision === 'fp16' ? 'float16' : 'float32');
      const full = await s.run({ input_ids: int64(tensor(out, 'input_ids')) });
      check(`clip ${precision} last_hidden_state`, full.last_hidden_state!, tensor(out, 'last_hidden_state').values as Float32Array, tolerances[precision]);
      check(`clip ${precision} pooler_output`, full.pooler_output!, tensor(out, 'pooler_output').values as Float32Array, tolerances[precision]);
      const short = await s.run({ input_ids: int64(tensor(out, 'short_input_ids')) });
      check(`clip ${precision} last_hidden_state (6 tokens)`, short.last_hidden_state!, tensor(out, 'short_last_hidden_state').values as Float32Array, tolerances[precision]);
      check(`clip ${precision} pooler_output (6 tokens)`, short.pooler_output!, tensor(out, 'short_pooler_output').values as Float32Array, tolerances[precision]);
    } finally {
      await s.release();
    }
  });
}

test('int32 input_ids at a fixed length 77 (as diffusers\' ONNX script exports) give the same states', async () => {
  const s = await build('int32', await fixtureConfig(model), { inputIdsType: 'int32', sequenceLength: 77 });
  try {
    const meta = s.inputMetadata[0]!;
    assert.equal(meta.isTensor && meta.type, 'int32');
    assert.deepEqual(meta.isTensor && meta.shape, ['batch_size', 77]);
    const ids = tensor(out, 'input_ids');
    const result = await s.run({ input_ids: new ort.Tensor('int32', Int32Array.from(ids.values as number[]), ids.shape) });
    check('clip int32 last_hidden_state', result.last_hidden_state!, tensor(out, 'last_hidden_state').values as Float32Array, tolerances.fp32);
  } finally {
    await s.release();
  }
});

test('with eos_token_id set to the end-of-text id, pooling takes its first position (transformers after #24773)', async () => {
  const config = { ...(await fixtureConfig(model)), eos_token_id: 127 };
  assert.equal(parseClipTextConfig(config).eosTokenId, 127);
  const s = await build('eos-id', config, {});
  try {
    const short = await s.run({ input_ids: int64(tensor(out, 'short_input_ids')) });
    check('clip pooler_output (eos_token_id 127)', short.pooler_output!, tensor(out, 'short_pooler_output_eos_token_id_127').values as Float32Array, tolerances.fp32);
  } finally {
    await s.release();
  }
});

test('the graph asks for exactly the tensors of the checkpoint (text_model.* names), with their shapes', async () => {
  const inFile = await withCheckpoint(fixturePath(model, 'model.safetensors'), async (reader) => reader.tensors().map((t) => ({ name: t.name, shape: t.shape })));
  const byName = (list: { name: string; shape: number[] }[]) => [...list].sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(byName(clipTextWeightRequests(await fixtureConfig(model))), byName(inFile));
  assert.ok(inFile.every((t) => t.name.startsWith('text_model.')));
});
