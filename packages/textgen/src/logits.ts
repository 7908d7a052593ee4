// Logits processors and warpers with the semantics of transformers' logits_process.py, applied to
// one row (one hypothesis) at a time.

/** log(sum(exp(scores))), without touching the scores. */
export function logSumExp(scores: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  if (max === -Infinity) return max;
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += Math.exp(scores[i]! - max);
  return max + Math.log(sum);
}

/** In place: log(softmax(scores)). */
export function logSoftmax(scores: Float32Array): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += Math.exp(scores[i]! - max);
  const logSum = max + Math.log(sum);
  for (let i = 0; i < scores.length; i++) scores[i] = scores[i]! - logSum;
  return scores;
}

export function argmax(scores: Float32Array): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  return best;
}

/** RepetitionPenaltyLogitsProcessor: every token already in the sequence becomes less likely. */
export function applyRepetitionPenalty(scores: Float32Array, tokens: readonly number[], penalty: number): void {
  if (penalty === 1) return;
  for (const token of new Set(tokens)) {
    const s = scores[token]!;
    scores[token] = s < 0 ? s * penalty : s / penalty;
  }
}

/** NoRepeatNGramLogitsProcessor: bans every token that would repeat an n-gram of the sequence. */
export function applyNoRepeatNgram(scores: Float32Array, tokens: readonly number[], n: number): void {
  if (n <= 0 || tokens.length + 1 < n) return;
  const prefixStart = tokens.length - (n - 1);
  for (let start = 0; start + n <= tokens.length; start++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = tokens[start + j] === tokens[prefixStart + j];
    if (same) scores[tokens[start + n - 1]!] = -Infinity;
  }
}

/** MinLength / MinNewTokensLength: no end of sequence before `minNewTokens` tokens. */
export function applyMinNewTokens(scores: Float32Array, generated: number, minNewTokens: number, eosTokenIds: readonly number[]): void {
  if (generated >= minNewTokens) return;
  for (const eos of eosTokenIds) scores[eos] = -Infinity;
}

/** TemperatureLogitsWarper. */
export function applyTemperature(scores: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  for (let i = 0; i < scores.length; i++) scores[i] = scores[i]! / temperature;
}

/** TopKLogitsWarper: keeps the k best scores (and ties with the k-th). */
export function applyTopK(scores: Float32Array, k: number): void {
  if (k <= 0 || k >= scores.length) return;
  const sorted = Float32Array.from(scores).sort();
  const threshold = sorted[sorted.length - k]!;
  for (let i = 0; i < scores.length; i++) if (scores[i]! < threshold) scores[i] = -Infinity;
}

/** TopPLogitsWarper: keeps the most likely tokens whose probabilities reach p (at least one). */
export function applyTopP(scores: Float32Array, p: number): void {
  if (p >= 1) return;
  const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const probs = softmax(scores);
  let above = 0;
  for (let rank = 0; rank < order.length; rank++) {
    const token = order[rank]!;
    // HF removes a token when the mass of it and every less likely token is <= 1 - p.
    if (rank > 0 && above >= p) scores[token] = -Infinity;
    above += probs[token]!;
  }
}

export function softmax(scores: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  const out = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += out[i] = Math.exp(scores[i]! - max);
  for (let i = 0; i < scores.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** Draws a token from softmax(scores) with a uniform number u in [0, 1). */
export function sampleToken(scores: Float32Array, u: number): number {
  const probs = softmax(scores);
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! <= 0) continue;
    last = i;
    cumulative += probs[i]!;
    if (u < cumulative) return i;
  }
  return last;
}

/**
 * The `count` best (score, index) pairs of `scores`, best first; ties go to the lower index.
 * A bounded insertion list: count is 2 * numBeams, far below the vocabulary size.
 */
export function topEntries(scores: Float32Array, count: number, offset = 0, into: { score: number; index: number }[] = []): { score: number; index: number }[] {
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s === -Infinity || Number.isNaN(s)) continue;
    if (into.length === count && s <= into[into.length - 1]!.score) continue;
    let at = into.length;
    while (at > 0 && into[at - 1]!.score < s) at--;
    into.splice(at, 0, { score: s, index: offset + i });
    if (into.length > count) into.pop();
  }
  return into;
}

/** Deterministic PRNG (mulberry32): the same seed gives the same samples on every machine. */
export class SeededRng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
