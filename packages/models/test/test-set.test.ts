// The test set is fake checkpoint repos with exactly the real repos' files, converted by the same
// code as the real checkpoints.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openCheckpoint } from '@curator/checkpoints';
import { loadTokenizer } from '@curator/tokenizers';
import { ensureTestModels, readConversionRecord, realManifest, testManifest, type ModelRole, type TestModelEvent } from '@curator/models';

/** Files under `dir`, `/`-separated, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1).split('\\').join('/'))
    .sort();
}

describe('ensureTestModels', () => {
  let modelsDir: string;
  let dirs: Record<ModelRole, string>;
  const events: TestModelEvent[] = [];
  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'curator-test-set-'));
    dirs = await ensureTestModels(modelsDir, undefined, { onProgress: (e) => events.push(e) });
  });
  after(() => rm(modelsDir, { recursive: true, force: true }));

  it("writes each role's repo with exactly the files the real repo's manifest entry fetches, plus the converted ONNX files", async () => {
    for (const real of realManifest.models) {
      const test = testManifest.models.find((m) => m.role === real.role)!;
      const expected = [
        ...[...real.shared, ...real.weights].map((f) => f.path),
        ...Object.values(test.precisions).flatMap((files) => files!.map((f) => f.path)),
        '.curator-verified.json',
        '.testmodels-version',
        'curator-conversion.json',
      ].sort();
      assert.deepEqual(await filesUnder(dirs[real.role]), expected, real.role);
    }
    // Stable Diffusion's tokenizer/ has no tokenizer.json, as the real repo: the CLIP files load.
    const clip = await loadTokenizer(join(dirs.image, 'tokenizer'));
    assert.equal(clip.source, 'vocab.json+merges.txt');
  });

  it('writes the weights in the real repos\' formats, with the extras real checkpoints carry', async () => {
    const formats: Record<string, string> = {};
    for (const model of testManifest.models) {
      for (const weights of model.weights) {
        const reader = await openCheckpoint(join(dirs[model.role], weights.path));
        formats[`${model.role}/${weights.path}`] = reader.format;
        await reader.close();
      }
    }
    assert.deepEqual(formats, {
      'sentiment/pytorch_model.bin': 'pytorch-zip',
      'genre/pytorch_model.bin': 'pytorch-zip',
      'summarizer/model.safetensors': 'safetensors',
      'headline/pytorch_model.bin': 'pytorch-zip',
      'image/text_encoder/pytorch_model.bin': 'pytorch-zip',
      'image/unet/diffusion_pytorch_model.bin': 'pytorch-zip',
      'image/vae/diffusion_pytorch_model.bin': 'pytorch-zip',
    });
    const headline = await openCheckpoint(join(dirs.headline, 'pytorch_model.bin'));
    const names = headline.tensors().map((t) => t.name);
    await headline.close();
    for (const tied of ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', 'lm_head.weight', 'decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight']) assert.ok(names.includes(tied), tied);
    // Left out on purpose by the conversion, and counted: tied aliases, the cross-attention bias, buffers, the VAE encoder.
    assert.equal((await readConversionRecord(dirs.headline))!.conversions.fp32!.ignoredTensors, 4);
    assert.equal((await readConversionRecord(dirs.sentiment))!.conversions.fp32!.ignoredTensors, 1);
  });

  it("gives the configs the real configs' keys", async () => {
    const keys = async (role: ModelRole, file: string) => Object.keys(JSON.parse(await readFile(join(dirs[role], file), 'utf8'))).sort();
    // google-t5/t5-small's config.json and generation_config.json at the pinned commit.
    assert.deepEqual(await keys('summarizer', 'config.json'), [
      'architectures', 'd_ff', 'd_kv', 'd_model', 'decoder_start_token_id', 'dropout_rate', 'eos_token_id', 'initializer_factor', 'is_encoder_decoder',
      'layer_norm_epsilon', 'model_type', 'n_positions', 'num_heads', 'num_layers', 'output_past', 'pad_token_id', 'relative_attention_num_buckets',
      'task_specific_params', 'vocab_size',
    ]);
    assert.deepEqual(await keys('summarizer', 'generation_config.json'), ['_from_model_config', 'decoder_start_token_id', 'eos_token_id', 'pad_token_id', 'transformers_version']);
    // finiteautomata/bertweet-base-sentiment-analysis's config.json and tokenizer_config.json.
    assert.deepEqual(await keys('sentiment', 'config.json'), [
      '_name_or_path', 'architectures', 'attention_probs_dropout_prob', 'bos_token_id', 'classifier_dropout', 'eos_token_id', 'gradient_checkpointing',
      'hidden_act', 'hidden_dropout_prob', 'hidden_size', 'id2label', 'initializer_range', 'intermediate_size', 'label2id', 'layer_norm_eps',
      'max_position_embeddings', 'model_type', 'num_attention_heads', 'num_hidden_layers', 'pad_token_id', 'position_embedding_type', 'problem_type',
      'tokenizer_class', 'torch_dtype', 'transformers_version', 'type_vocab_size', 'use_cache', 'vocab_size',
    ]);
    const bertweet = JSON.parse(await readFile(join(dirs.sentiment, 'tokenizer_config.json'), 'utf8'));
    assert.equal(bertweet.normalization, false);
    assert.equal(bertweet.model_max_length, 128);
  });

  it('converted every role to fp32 and fp16, and a second call changes nothing', async () => {
    for (const role of Object.keys(dirs) as ModelRole[]) assert.deepEqual(Object.keys((await readConversionRecord(dirs[role]))!.conversions).sort(), ['fp16', 'fp32'], role);
    assert.ok(events.some((e) => e.type === 'convert-done' && e.role === 'image' && e.precision === 'fp16'));
    const before = (await stat(join(dirs.image, 'unet', 'model.onnx'))).mtimeMs;
    const seen: TestModelEvent[] = [];
    await ensureTestModels(modelsDir, undefined, { onProgress: (e) => seen.push(e) });
    assert.ok(seen.every((e) => e.type === 'test-model-present'));
    assert.equal((await stat(join(dirs.image, 'unet', 'model.onnx'))).mtimeMs, before);
  });
});
