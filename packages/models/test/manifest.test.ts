import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isCuratorError } from '@curator/contracts';
import recordedChecksums from '../src/checksums.json' with { type: 'json' };
import { applyChecksums, checksumsSchema, modelOverridesFromEnv, parseManifest, realManifest, resolveModel, roles, testManifest } from '@curator/models';

describe('the manifests', () => {
  it('name one real and one test model per role', () => {
    assert.deepEqual(realManifest.models.map((m) => m.role).sort(), [...roles].sort());
    assert.deepEqual(testManifest.models.map((m) => m.id).sort(), roles.map((r) => `curator-test/${r}`).sort());
    assert.ok(testManifest.models.every((m) => m.source.kind === 'generated'));
  });

  it('never carry a sha256 nobody measured: each one comes from the recorded checksums.json', () => {
    const recorded = checksumsSchema.parse(recordedChecksums);
    for (const model of realManifest.models) {
      for (const file of [...model.shared, ...Object.values(model.precisions).flat()]) {
        if (file?.sha256 === undefined) continue;
        assert.equal(recorded[model.id]?.revision, model.revision, `${model.id}: checksums of another revision`);
        assert.equal(recorded[model.id]?.files[file.path]?.sha256, file.sha256, `${model.id}/${file.path}`);
      }
    }
  });

  it('take the checksums.json the export recipe writes, for the matching revision only', () => {
    const sums = checksumsSchema.parse({
      'JulesBelveze/t5-small-headline-generator': {
        revision: 'main',
        exportedFrom: { repo: 'JulesBelveze/t5-small-headline-generator', revision: 'main', sha: 'abc' },
        files: { 'onnx/encoder_model.onnx': { sha256: 'a'.repeat(64), size: 10 }, 'spiece.model': { sha256: 'b'.repeat(64), size: 3 } },
      },
      'Xenova/t5-small': { revision: 'some-other-commit', files: { 'config.json': { sha256: 'c'.repeat(64), size: 1 } } },
    });
    const filled = applyChecksums(realManifest, sums);
    const headline = resolveModel('headline', { modelsDir: '/m', manifest: filled });
    assert.deepEqual(headline.files.find((f) => f.key === 'encoder')?.sha256, 'a'.repeat(64));
    assert.equal(headline.files.find((f) => f.key === 'encoder')?.size, 10);
    const summarizer = resolveModel('summarizer', { modelsDir: '/m', manifest: filled });
    assert.equal(summarizer.files.find((f) => f.path === 'config.json')?.sha256, undefined);
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
    assert.equal(model.dir, '/srv/models/Xenova/t5-small');
    assert.equal(model.precision, 'fp16');
    assert.equal(model.paths['encoder'], '/srv/models/Xenova/t5-small/onnx/encoder_model_fp16.onnx');
    assert.equal(model.paths['tokenizer'], '/srv/models/Xenova/t5-small/tokenizer.json');
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
    assert.ok(model.paths['decoder']?.endsWith('acme/t5-news/onnx/decoder_model_merged.onnx'));
    // Overrides do not touch the test set.
    assert.equal(resolveModel('summarizer', { modelsDir: '/m', set: 'test', overrides }).id, 'curator-test/summarizer');
  });

  it('CURATOR_MODELS_MANIFEST replaces whole entries; a wrong reference is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'curator-manifest-'));
    const file = join(dir, 'models.json');
    await writeFile(
      file,
      JSON.stringify({ models: [{ role: 'genre', id: 'acme/genre', revision: 'v2', source: { kind: 'curator-export', exportedFrom: 'acme/genre-pt', exportedFromRevision: 'v2', mirror: 'acme/genre-onnx' }, precisions: { fp32: [{ path: 'model.onnx', key: 'model', sha256: 'd'.repeat(64), size: 5 }] } }] }),
    );
    const model = resolveModel('genre', { modelsDir: '/m', overrides: modelOverridesFromEnv({ CURATOR_MODELS_MANIFEST: file }) });
    assert.equal(model.id, 'acme/genre');
    assert.equal(model.files[0]?.sha256, 'd'.repeat(64));
    assert.throws(() => modelOverridesFromEnv({ CURATOR_MODEL_GENRE: 'not a repo' }), (error) => isCuratorError(error) && error.code === 'validation_failed');
    await rm(dir, { recursive: true, force: true });
  });
});
