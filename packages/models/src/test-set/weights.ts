// Seeded random tensors for the test set, by state-dict name, at scales that make tiny random
// models behave usefully (distinct labels per text, outputs that end). Deterministic on every
// machine: the same seed gives the same bytes.
import { SeededRandom, randomWeights, tensorWeights, transpose2d, parseT5Config, type WeightSource } from '@curator/graphs';

/**
 * Classifier weights. Matrices are scaled so every layer mixes tokens visibly (transformers' init,
 * std 0.02, would make all inputs give nearly the same logits on a 32-wide model); the heads are
 * stronger still so labels differ between texts.
 */
export function randomClassifierWeights(seed: number): WeightSource {
  return randomWeights(seed, {
    init: (name, shape) => {
      if (name.endsWith('.word_embeddings.weight')) return { std: 1 };
      if (name.endsWith('_embeddings.weight')) return { std: 0.5 };
      if (name.endsWith('.bias') || /LayerNorm\.weight$/.test(name)) return undefined;
      const head = name.startsWith('classifier') || name.includes('.pooler.');
      return { std: (head ? 2 : 1) / Math.sqrt(shape[1]!) };
    },
  });
}

/**
 * T5 weights in the checkpoint's layout (Linear [out, in]). One seeded stream drawn in a fixed
 * order (the generator's since its first version, so every test tuned on these models sees the
 * same weights), at T5's initialisation scales with two changes that make a tiny random model
 * generate usefully: sublayer outputs four times stronger (with tied embeddings a token's own
 * embedding otherwise dominates the residual stream and the model repeats its input forever) and
 * norm scales away from 1. The end-of-sequence embedding's norm sets how soon outputs end (its
 * tied logit scales with it).
 */
export function seededT5Weights(config: Record<string, unknown>, seed: number, eosScale = 2): WeightSource {
  const spec = parseT5Config(config);
  const eosId = typeof config.eos_token_id === 'number' ? config.eos_token_id : 1;
  const rng = new SeededRandom(seed);
  const { dModel: d, dKv: dkv, numHeads: heads, dFf: ff } = spec;
  const inner = dkv * heads;
  const gain = 4;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  // Drawn as [in, out] (the order the first generator drew them), stored as PyTorch's [out, in].
  const linear = (name: string, inDim: number, outDim: number, std: number) => tensors.set(name, { shape: [outDim, inDim], data: transpose2d(rng.normals(inDim * outDim, std), inDim, outDim) });
  const norm = (name: string) => tensors.set(name, { shape: [d], data: Float32Array.from({ length: d }, () => 1 + rng.normal(0.1)) });
  const attention = (prefix: string) => {
    linear(`${prefix}.q.weight`, d, inner, (d * dkv) ** -0.5);
    linear(`${prefix}.k.weight`, d, inner, d ** -0.5);
    linear(`${prefix}.v.weight`, d, inner, d ** -0.5);
    linear(`${prefix}.o.weight`, inner, d, gain * inner ** -0.5);
  };
  const feedForward = (prefix: string) => {
    for (const wi of spec.gated ? ['wi_0', 'wi_1'] : ['wi']) linear(`${prefix}.${wi}.weight`, d, ff, d ** -0.5);
    linear(`${prefix}.wo.weight`, ff, d, gain * ff ** -0.5);
  };
  const shared = rng.normals(spec.vocabSize * d, 1);
  tensors.set('shared.weight', { shape: [spec.vocabSize, d], data: shared });
  if (!spec.tied) linear('lm_head.weight', d, spec.vocabSize, d ** -0.5);
  const bias = () => ({ shape: [spec.numBuckets, heads], data: rng.normals(spec.numBuckets * heads, 1) });
  tensors.set('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', bias());
  tensors.set('decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', bias());
  for (let i = 0; i < spec.numLayers; i++) {
    attention(`encoder.block.${i}.layer.0.SelfAttention`);
    norm(`encoder.block.${i}.layer.0.layer_norm.weight`);
    feedForward(`encoder.block.${i}.layer.1.DenseReluDense`);
    norm(`encoder.block.${i}.layer.1.layer_norm.weight`);
  }
  for (let i = 0; i < spec.numDecoderLayers; i++) {
    attention(`decoder.block.${i}.layer.0.SelfAttention`);
    norm(`decoder.block.${i}.layer.0.layer_norm.weight`);
    attention(`decoder.block.${i}.layer.1.EncDecAttention`);
    norm(`decoder.block.${i}.layer.1.layer_norm.weight`);
    feedForward(`decoder.block.${i}.layer.2.DenseReluDense`);
    norm(`decoder.block.${i}.layer.2.layer_norm.weight`);
  }
  norm('encoder.final_layer_norm.weight');
  norm('decoder.final_layer_norm.weight');
  for (let i = 0; i < d; i++) shared[eosId * d + i]! *= eosScale;
  return tensorWeights(tensors);
}
