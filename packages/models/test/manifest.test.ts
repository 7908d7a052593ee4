import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isCuratorError } from '@curator/contracts';
import { conversionOutputs, modelOverridesFromEnv, parseManifest, realManifest, resolveModel, roles, testManifest } from '@curator/models';

describe('the manifests', () => {
  it('name one real and one test model per role', () => {
    assert.deepEqual(realManifest.models.map((m) => m.role).sort(), [...roles].sort());
    assert.deepEqual(testManifest.models.map((m) => m.id).sort(), roles.map((r) => `curator-test/${r}`).sort());
    assert.ok(testManifest.models.every((m) => m.source.kind === 'generated'));
  });

  it('pin every real model to a commit sha and fetch one weight format', () => {
    for (const model of realManifest.models) {
      assert.match(model.revision, /^[0-9a-f]{40}$/, `${model.role}: a full commit sha`);
      assert.ok(model.conversion, `${model.role}: converted by Curator`);
      const formats = new Set(model.weights.map((f) => (f.path.endsWith('.safetensors') ? 'safetensors' : 'pytorch')));
      assert.equal(formats.size, 1, `${model.role}: one weight format`);
      for (const precision of ['fp32', 'fp16'] as const) {
        assert.deepEqual(model.precisions[precision]?.map((f) => f.path), conversionOutputs(model.conversion!.builder, precision).map((f) => f.path));
      }
    }
    // The safetensors that only exist under refs/pr/N were not chosen; the reason is recorded.
    for (const role of ['sentiment', 'genre', 'image'] as const) assert.match(realManifest.models.find((m) => m.role === role)?.note ?? '', /refs\/pr\//);
    assert.deepEqual(realManifest.models.find((m) => m.role === 'summarizer')?.weights.map((f) => f.path), ['model.safetensors']);
  });

  it('the test set lists exactly the real files, unpinned', () => {
    for (const real of realManifest.models) {
      const test = testManifest.models.find((m) => m.role === real.role)!;
      assert.deepEqual([...test.shared, ...test.weights].map((f) => f.path), [...real.shared, ...real.weights].map((f) => f.path));
      assert.ok([...test.shared, ...test.weights].every((f) => f.sha256 === undefined));
      assert.deepEqual(test.conversion, real.conversion);
    }
  });

  it('refuse a converted entry whose outputs are not what its builder writes', () => {
    const entry = {
      role: 'genre',
      id: 'a/b',
      revision: 'r',
      source: { kind: 'hub', repo: 'a/b' },
      shared: [{ path: 'config.json', key: 'config' }],
      weights: [{ path: 'pytorch_model.bin', key: 'weights' }],
      conversion: { builder: 'encoder-classifier' },
      precisions: { fp32: [{ path: 'onnx/model.onnx', key: 'model' }] },
    };
    assert.throws(() => parseManifest({ set: 'real', models: [entry] }), /writes model\.onnx for fp32/);
    assert.throws(() => parseManifest({ set: 'real', models: [{ ...entry, weights: [], precisions: { fp32: [{ path: 'model.onnx', key: 'model' }] } }] }), /key weights/);
  });

  it('refuse paths that leave the model folder', () => {
    const entry = { role: 'genre', id: 'a/b', revision: 'main', source: { kind: 'hub', repo: 'a/b' }, precisions: { fp32: [{ path: '../../etc/passwd' }] } };
    assert.throws(() => parseManifest({ set: 'real', models: [entry] }), (error) => isCuratorError(error) && error.code === 'validation_failed');
    assert.throws(() => parseManifest({ set: 'real', models: [{ ...entry, id: '../x', precisions: { fp32: [{ path: 'm.onnx' }] } }] }));
  });
});

describe('resolveModel', () => {
  it('gives the folder, precision and keyed file paths', () => {
    const model = resolveModel('summarizer', { modelsDir: '/srv/models', precision: 'fp16' });
    assert.equal(model.dir, '/srv/models/google-t5/t5-small');
    assert.equal(model.precision, 'fp16');
    assert.equal(model.paths['encoder'], '/srv/models/google-t5/t5-small/encoder_model_fp16.onnx');
    assert.equal(model.paths['tokenizer'], '/srv/models/google-t5/t5-small/tokenizer.json');
    assert.equal(model.paths['weights'], '/srv/models/google-t5/t5-small/model.safetensors');
    // What the engines need at run time, and what the conversion reads.
    assert.deepEqual(model.files.map((f) => f.path), ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'encoder_model_fp16.onnx', 'decoder_model_merged_fp16.onnx']);
    assert.deepEqual(model.checkpointFiles.map((f) => f.path), ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']);
  });

  it('falls back to the default precision a role lacks', () => {
    const model = resolveModel('sentiment', { modelsDir: '/m', precision: 'int8' });
    assert.equal(model.precision, 'fp32');
    assert.equal(model.paths['model'], '/m/finiteautomata/bertweet-base-sentiment-analysis/model.onnx');
    assert.ok(model.paths['bpe']?.endsWith('bpe.codes'));
  });

  it('resolves the test set to curator-test/<role>', () => {
    const model = resolveModel('image', { modelsDir: '/m', set: 'test' });
    assert.equal(model.id, 'curator-test/image');
    assert.equal(model.paths['unet'], '/m/curator-test/image/unet/model.onnx');
  });
});

describe('overrides', () => {
  it('CURATOR_MODEL_<ROLE>=org/name@revision points a role at another Hub repo with the same layout', () => {
    const overrides = modelOverridesFromEnv({ CURATOR_MODEL_SUMMARIZER: 'acme/t5-news@0123abc' });
    const model = resolveModel('summarizer', { modelsDir: '/m', overrides });
    assert.equal(model.id, 'acme/t5-news');
    assert.equal(model.revision, '0123abc');
    assert.deepEqual(model.source, { kind: 'hub', repo: 'acme/t5-news' });
    assert.ok(model.paths['decoder']?.endsWith('acme/t5-news/decoder_model_merged.onnx'));
    // Another repo's bytes: nothing of the default's pins applies.
    assert.ok([...model.files, ...model.checkpointFiles].every((f) => f.sha256 === undefined));
    // Overrides do not touch the test set.
    assert.equal(resolveModel('summarizer', { modelsDir: '/m', set: 'test', overrides }).id, 'curator-test/summarizer');
  });

  it('CURATOR_MODELS_MANIFEST replaces whole entries; a wrong reference is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'curator-manifest-'));
    const file = join(dir, 'models.json');
    await writeFile(
      file,
      JSON.stringify({ models: [{ role: 'genre', id: 'acme/genre', revision: 'v2', source: { kind: 'hub', repo: 'acme/genre-onnx' }, precisions: { fp32: [{ path: 'model.onnx', key: 'model', sha256: 'd'.repeat(64), size: 5 }] } }] }),
    );
    const model = resolveModel('genre', { modelsDir: '/m', overrides: modelOverridesFromEnv({ CURATOR_MODELS_MANIFEST: file }) });
    assert.equal(model.id, 'acme/genre');
    assert.equal(model.files[0]?.sha256, 'd'.repeat(64));
    assert.throws(() => modelOverridesFromEnv({ CURATOR_MODEL_GENRE: 'not a repo' }), (error) => isCuratorError(error) && error.code === 'validation_failed');
    await rm(dir, { recursive: true, force: true });
  });
});
