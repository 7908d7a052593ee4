// `curator models parity` against reference exports made by PyTorch itself (torch.onnx.export of
// transformers' fixture models, packages/reference/models/*/onnx-reference, optimum's layout): the
// conversion of the same checkpoint matches; other weights are a clear mismatch.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Command, CommanderError } from 'commander';
import { openCheckpoint, writeSafetensors, type NamedTensor } from '@curator/checkpoints';
import { modelsReferenceDir } from '@curator/reference';
import { convertFolder, ensureTestModels, parseManifest, type ModelEntry } from '@curator/models';
import { registerModelsCommand } from '../src/commands/models.ts';
import type { ParityReport } from '../src/commands/models-parity.ts';

const fixture = (model: string, ...path: string[]) => join(modelsReferenceDir, model, ...path);

function entry(builder: 't5' | 'encoder-classifier', weights: string): ModelEntry {
  const precisions =
    builder === 't5'
      ? { fp32: [{ path: 'encoder_model.onnx', key: 'encoder' }, { path: 'decoder_model_merged.onnx', key: 'decoder' }] }
      : { fp32: [{ path: 'model.onnx', key: 'model' }] };
  return parseManifest({
    set: 'real',
    models: [{ role: builder === 't5' ? 'summarizer' : 'sentiment', id: 'fixture/model', revision: 'fixture', source: { kind: 'hub', repo: 'fixture/model' }, shared: [{ path: 'config.json', key: 'config' }], weights: [{ path: weights, key: 'weights' }], conversion: { builder }, precisions }],
  }).models[0]!;
}

describe('models parity', () => {
  let root: string;
  let out = '';
  const run = async (...args: string[]): Promise<{ report: ParityReport; exitCode: number }> => {
    out = '';
    const stream = new Writable({ write: (chunk, _e, done) => ((out += String(chunk)), done()) });
    const program = new Command('curator').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
    registerModelsCommand(program, { stdout: stream, stderr: stream, env: { MODELS_DIR: join(root, 'models') } });
    let exitCode = 0;
    try {
      await program.parseAsync(['models', 'parity', ...args, '--json'], { from: 'user' });
    } catch (error) {
      if (!(error instanceof CommanderError)) throw error;
      exitCode = error.exitCode;
    }
    return { report: JSON.parse(out) as ParityReport, exitCode };
  };

  /** Curator's conversion of a fixture checkpoint (optionally with one tensor changed) in a folder of its own. */
  const convert = async (name: string, model: string, builder: 't5' | 'encoder-classifier', change?: { tensor: string; add: number }) => {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    await copyFile(fixture(model, 'config.json'), join(dir, 'config.json'));
    if (!change) await copyFile(fixture(model, 'model.safetensors'), join(dir, 'model.safetensors'));
    else {
      const reader = await openCheckpoint(fixture(model, 'model.safetensors'));
      const tensors: NamedTensor[] = [];
      for (const info of reader.tensors()) {
        const values = await reader.readFloat32(info.name);
        if (info.name === change.tensor) for (let i = 0; i < values.length; i++) values[i]! += change.add;
        tensors.push({ name: info.name, dtype: 'F32', shape: info.shape, data: values });
      }
      await reader.close();
      await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    }
    await convertFolder(entry(builder, 'model.safetensors'), dir, { precisions: ['fp32'] });
    return dir;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'curator-parity-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('T5: the conversion of the checkpoint PyTorch exported matches it, logits and greedy and beam tokens', async () => {
    const dir = await convert('t5', 't5-tiny', 't5');
    const { report, exitCode } = await run('summarizer', '--model', dir, '--reference', fixture('t5-tiny', 'onnx-reference'));
    assert.equal(exitCode, 0, out);
    assert.equal(report.match, true);
    assert.equal(report.inputs, 'seeded ids', 'the fixture has no tokenizer');
    assert.deepEqual(report.outputs.map((o) => `${o.part} ${o.output}`), ['encoder_model last_hidden_state', 'decoder logits']);
    for (const output of report.outputs) assert.ok(output.maxAbsDifference < 1e-4, `${output.output}: ${output.maxAbsDifference}`);
    assert.deepEqual(report.sequences.map((s) => [s.mode, s.identical, s.inputs]), [
      ['greedy, 20 new tokens', 4, 4],
      ['summarize stage (beam search)', 4, 4],
    ]);
  });

  it('T5: other weights of the same shape are a clear mismatch, with the first differing tokens, and exit code 2', async () => {
    const modelsDir = join(root, 'test-set');
    const { summarizer } = await ensureTestModels(modelsDir, ['summarizer'], { precisions: ['fp32'] });
    const { report, exitCode } = await run('summarizer', '--model', summarizer, '--reference', fixture('t5-tiny', 'onnx-reference'));
    assert.equal(exitCode, 2);
    assert.equal(report.match, false);
    assert.equal(report.inputs, 'texts', 'the test set has a tokenizer');
    assert.ok(report.outputs.every((o) => o.maxAbsDifference > 0.1), JSON.stringify(report.outputs));
    assert.ok(report.sequences.some((s) => s.identical < s.inputs && s.firstDifference));
  });

  it('classifier: a match on the same checkpoint, and one changed bias shows in the logits', async () => {
    const same = await convert('bertweet', 'bertweet-tiny', 'encoder-classifier');
    const matched = await run('sentiment', '--model', same, '--reference', fixture('bertweet-tiny', 'onnx-reference'));
    assert.equal(matched.exitCode, 0, out);
    assert.ok(matched.report.outputs[0]!.maxAbsDifference < 1e-4);

    const changed = await convert('bertweet-changed', 'bertweet-tiny', 'encoder-classifier', { tensor: 'classifier.out_proj.bias', add: 0.5 });
    const differs = await run('sentiment', '--model', changed, '--reference', fixture('bertweet-tiny', 'onnx-reference'));
    assert.equal(differs.exitCode, 2);
    assert.ok(Math.abs(differs.report.outputs[0]!.maxAbsDifference - 0.5) < 1e-4, `the bias moved every logit by 0.5: ${differs.report.outputs[0]!.maxAbsDifference}`);
  });

  it('BERT (token_type_ids) matches too; the text report says what it compared', async () => {
    const dir = await convert('bert', 'bert-tiny', 'encoder-classifier');
    const { exitCode } = await run('genre', '--model', dir, '--reference', fixture('bert-tiny', 'onnx-reference'));
    assert.equal(exitCode, 0, out);
    const program = new Command('curator').exitOverride();
    let text = '';
    registerModelsCommand(program, { stdout: new Writable({ write: (chunk, _e, done) => ((text += String(chunk)), done()) }), stderr: process.stderr, env: { MODELS_DIR: root } });
    await program.parseAsync(['models', 'parity', 'genre', '--model', dir, '--reference', fixture('bert-tiny', 'onnx-reference')], { from: 'user' });
    assert.match(text, /model logits \[4, 5\]: max \|difference\| \d\.\d\de-\d+ .*ok/);
    assert.match(text, /MATCH within 0\.001/);
  });

  it('Stable Diffusion: each part on the same inputs (here the test set fp16 against its own fp32)', async () => {
    const { image } = await ensureTestModels(join(root, 'test-set'), ['image']);
    const { report, exitCode } = await run('image', '--model', image, '--precision', 'fp16', '--reference', image, '--tolerance', '0.05');
    assert.deepEqual(report.outputs.map((o) => `${o.part} ${o.output}`), ['text_encoder last_hidden_state', 'unet out_sample', 'vae_decoder sample']);
    assert.ok(report.outputs.every((o) => o.maxAbsDifference > 0 && o.maxAbsDifference < 0.05), JSON.stringify(report.outputs));
    assert.equal(exitCode, 0);
  });
});
