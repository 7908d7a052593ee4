// The decoding loop: several requests decode together, one decoder run per step for all their rows
// (beams, samples). Each request keeps its own options, processors, beam hypotheses and PRNG, so a
// request decodes to the same tokens alone or in any batch. Finished requests and rows leave the
// batch: the cache is gathered down to the rows still running.
import { performance } from 'node:perf_hooks';
import { CuratorError } from '@curator/contracts';
import type { ResolvedOptions } from './options.ts';
import { gatherRows, lastPositionLogits, type DecoderCache, type EncoderState, type Seq2SeqModel } from './seq2seq-model.ts';
import {
  SeededRng,
  applyMinNewTokens,
  applyNoRepeatNgram,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  logSumExp,
  sampleToken,
  topEntries,
} from './logits.ts';

export interface GenerationRequest {
  /** Encoder input ids, special tokens included, already truncated. */
  inputIds: readonly number[];
  /** Pads the encoder input to at least this many positions (masked), as a tokenizer's padding="max_length" does. */
  padTo?: number;
  options: ResolvedOptions;
  /** performance.now() when the request arrived (time to first token counts from here). */
  arrivedAt?: number;
  onStep?(step: number, maxSteps: number): void;
  isCanceled?(): boolean;
}

export interface GeneratedSequence {
  /** Generated ids: without the decoder start token, with the end-of-sequence token when one was produced. */
  tokens: number[];
  /** Sum of token log-probabilities / generated length ** lengthPenalty (HF's beam score). */
  score: number;
}

export interface GenerationResult {
  sequences: GeneratedSequence[];
  steps: number;
  timeToFirstTokenMs: number;
  /** From the request's arrival to its last token. */
  totalMs: number;
  /** From the start of its batch to its last token. */
  decodeMs: number;
  batchSize: number;
  /** Input positions the encoder ran over, padding included. */
  encoderLength: number;
}

interface Row {
  /** Decoder ids so far, decoder start token first. */
  tokens: number[];
  /** Sum of the log-probabilities of the chosen tokens. */
  logprob: number;
}

interface NextRow {
  source: number;
  row: Row;
}

/** BeamHypotheses: the best `numBeams` finished hypotheses of one request. */
class BeamHypotheses {
  readonly beams: GeneratedSequence[] = [];
  #worst = Infinity;
  readonly #options: ResolvedOptions;
  constructor(options: ResolvedOptions) {
    this.#options = options;
  }

  add(tokens: number[], logprob: number, generatedLength: number): void {
    const score = logprob / generatedLength ** this.#options.lengthPenalty;
    if (this.beams.length < this.#options.numBeams || score > this.#worst) {
      this.beams.push({ tokens, score });
      if (this.beams.length > this.#options.numBeams) {
        let worstIndex = 0;
        this.beams.forEach((b, i) => {
          if (b.score < this.beams[worstIndex]!.score) worstIndex = i;
        });
        this.beams.splice(worstIndex, 1);
        this.#worst = Math.min(...this.beams.map((b) => b.score));
      } else {
        this.#worst = Math.min(score, this.#worst);
      }
    }
  }

  /**
   * HF's stopping rule for early_stopping true / false / "never": no hypothesis still to come can
   * beat the worst kept one, judged from `bestLogprob` (the best beam still running for transformers
   * >= 4.49, the best of all candidates for <= 4.48).
   */
  isDone(bestLogprob: number, generatedLength: number): boolean {
    const { numBeams, earlyStopping, lengthPenalty, maxNewTokens } = this.#options;
    if (this.beams.length < numBeams) return false;
    if (earlyStopping === true) return true;
    const length = earlyStopping === 'never' && lengthPenalty > 0 ? maxNewTokens : generatedLength;
    return this.#worst >= bestLogprob / length ** lengthPenalty;
  }
}

class RequestState {
  readonly request: GenerationRequest;
  readonly options: ResolvedOptions;
  readonly eos: readonly number[];
  readonly rng: SeededRng;
  readonly hypotheses: BeamHypotheses;
  readonly finished: GeneratedSequence[] = [];
  done = false;
  error: Error | undefined;
  steps = 0;
  firstTokenAt = 0;
  doneAt = 0;

  constructor(request: GenerationRequest, eos: readonly number[]) {
    this.request = request;
    this.options = request.options;
    this.eos = eos;
    this.rng = new SeededRng(request.options.seed);
    this.hypotheses = new BeamHypotheses(request.options);
  }

  #process(scores: Float32Array, row: Row): void {
    applyRepetitionPenalty(scores, row.tokens, this.options.repetitionPenalty);
    applyNoRepeatNgram(scores, row.tokens, this.options.noRepeatNgramSize);
    applyMinNewTokens(scores, row.tokens.length - 1, this.options.minNewTokens, this.eos);
  }

  #finish(): void {
    this.done = true;
    this.doneAt = performance.now();
  }

  /** Picks the next tokens of this request's rows; `first` is the global index of its first row. */
  advance(rows: Row[], logits: Float32Array[], first: number): NextRow[] {
    this.steps++;
    if (this.steps === 1) this.firstTokenAt = performance.now();
    const next = this.options.mode === 'beam' ? this.#advanceBeams(rows, logits, first) : this.#advanceRows(rows, logits, first);
    if (next.length === 0 && !this.done) this.#finish();
    this.request.onStep?.(this.steps, this.options.maxNewTokens);
    return next;
  }

  /** Greedy and sampling: every row on its own. */
  #advanceRows(rows: Row[], logits: Float32Array[], first: number): NextRow[] {
    const { mode, maxNewTokens, numReturnSequences, lengthPenalty } = this.options;
    // The first step decodes one row per request; sampling then fans it out to its sequences.
    const sources = this.steps === 1 && mode === 'sample' ? new Array<number>(numReturnSequences).fill(0) : rows.map((_, i) => i);
    const next: NextRow[] = [];
    for (const local of sources) {
      const row = rows[local]!;
      // The logits are views of the decoder's output: processed in place unless several rows share them.
      const scores = sources.length > rows.length ? Float32Array.from(logits[local]!) : logits[local]!;
      this.#process(scores, row);
      let token: number;
      let tokenLogprob: number;
      if (mode === 'sample') {
        const lse = logSumExp(scores);
        const raw = Float32Array.from(scores);
        applyTemperature(scores, this.options.temperature);
        applyTopK(scores, this.options.topK);
        applyTopP(scores, this.options.topP);
        token = sampleToken(scores, this.rng.next());
        tokenLogprob = raw[token]! - lse;
      } else {
        token = argmax(scores);
        tokenLogprob = scores[token]! - logSumExp(scores);
      }
      const tokens = [...row.tokens, token];
      const logprob = row.logprob + tokenLogprob;
      const generated = tokens.length - 1;
      if (this.eos.includes(token) || generated >= maxNewTokens) {
        this.finished.push({ tokens: tokens.slice(1), score: logprob / generated ** lengthPenalty });
      } else {
        next.push({ source: first + local, row: { tokens, logprob } });
      }
    }
    return next;
  }

  /** Beam search as transformers' `_beam_search` (see BeamSearchVersion for the two versions). */
  #advanceBeams(rows: Row[], logits: Float32Array[], first: number): NextRow[] {
    const { numBeams, maxNewTokens } = this.options;
    const legacy = this.options.beamSearch === 'legacy';
    // The logits' width, which an export may pad beyond config.json's vocab_size.
    const vocab = logits[0]!.length;
    const keep = Math.max(2, 1 + this.eos.length) * numBeams;
    let candidates: { score: number; index: number }[] = [];
    rows.forEach((row, b) => {
      // Processors act on log-probabilities here, as in HF's beam search. Rather than write out
      // logits - logsumexp for the whole vocabulary, the shift is applied where it matters.
      const scores = logits[b]!;
      const lse = logSumExp(scores);
      if (this.options.repetitionPenalty !== 1) {
        for (const token of new Set(row.tokens)) {
          const logprob = scores[token]! - lse;
          scores[token] = (logprob < 0 ? logprob * this.options.repetitionPenalty : logprob / this.options.repetitionPenalty) + lse;
        }
      }
      applyNoRepeatNgram(scores, row.tokens, this.options.noRepeatNgramSize);
      applyMinNewTokens(scores, row.tokens.length - 1, this.options.minNewTokens, this.eos);
      for (const entry of topEntries(scores, keep, b * vocab)) candidates.push({ score: entry.score - lse + row.logprob, index: entry.index });
    });
    candidates = candidates.sort((a, b) => b.score - a.score || a.index - b.index).slice(0, keep);
    // Tokens generated once this step's token is added.
    const generated = rows[0]!.tokens.length;
    // transformers >= 4.49: at the length limit every top-numBeams candidate is finished, ended or not.
    const finishTop = !legacy && generated >= maxNewTokens;
    const next: NextRow[] = [];
    for (let rank = 0; rank < candidates.length && (finishTop ? rank < numBeams : next.length < numBeams); rank++) {
      const { score, index } = candidates[rank]!;
      const beam = Math.floor(index / vocab);
      const token = index % vocab;
      const row = rows[beam]!;
      if (finishTop || this.eos.includes(token)) {
        // An end of sequence outside the top numBeams candidates does not make a hypothesis.
        if (rank >= numBeams) continue;
        this.hypotheses.add([...row.tokens.slice(1), token], score, generated);
      } else {
        next.push({ source: first + beam, row: { tokens: [...row.tokens, token], logprob: score } });
      }
    }
    if (finishTop) {
      this.#finish();
      return [];
    }
    // The stop check: <= 4.48 compared the best of all candidates, >= 4.49 the best beam still running.
    const best = legacy ? candidates[0]?.score : next[0]?.row.logprob;
    if (best === undefined || this.hypotheses.isDone(best, generated)) {
      this.#finish();
      return [];
    }
    if (generated >= maxNewTokens) {
      // <= 4.48's finalize: the beams still running join the hypotheses.
      for (const { row } of next) this.hypotheses.add(row.tokens.slice(1), row.logprob, row.tokens.length - 1);
      this.#finish();
      return [];
    }
    return next;
  }

  result(startedAt: number, batchSize: number, encoderLength: number): GenerationResult {
    const all = this.options.mode === 'beam' ? this.hypotheses.beams : this.finished;
    const sequences = [...all].sort((a, b) => b.score - a.score).slice(0, this.options.mode === 'beam' ? this.options.numReturnSequences : all.length);
    const arrivedAt = this.request.arrivedAt ?? startedAt;
    return {
      sequences,
      steps: this.steps,
      timeToFirstTokenMs: this.firstTokenAt - arrivedAt,
      totalMs: this.doneAt - arrivedAt,
      decodeMs: this.doneAt - startedAt,
      batchSize,
      encoderLength,
    };
  }
}

/** A request's cancellation, seen between steps. */
function canceledError(): CuratorError {
  return new CuratorError('canceled', 'The job was canceled');
}

/**
 * Generates for every request together. All requests must share `useCache`. Returns one result or
 * error per request, in order; a failure of the model itself rejects.
 */
export async function generateBatch(model: Seq2SeqModel, requests: readonly GenerationRequest[]): Promise<(GenerationResult | Error)[]> {
  const startedAt = performance.now();
  const useCache = requests[0]?.options.useCache ?? true;
  if (requests.some((r) => r.options.useCache !== useCache)) throw new CuratorError('internal_error', 'a batch mixes cached and recomputing requests');
  const { decoderStartTokenId, eosTokenIds } = model.generation;
  const states = requests.map((r) => new RequestState(r, eosTokenIds));
  const cancelCheck = () => {
    for (const s of states) {
      if (!s.done && s.request.isCanceled?.()) {
        s.error = canceledError();
        s.done = true;
      }
    }
  };
  cancelCheck();
  const live = states.filter((s) => !s.done);
  let encoderLength = 0;
  if (live.length > 0) {
    // The encoder runs once for the live requests; its rows follow the decoder rows from then on.
    const padTo = Math.max(0, ...live.map((s) => s.request.padTo ?? 0));
    let encoder: EncoderState = await model.encode(
      live.map((s) => s.request.inputIds),
      padTo,
    );
    encoderLength = encoder.hiddenStates.dims[1] ?? 0;
    let active: { state: RequestState; row: Row }[] = live.map((state) => ({ state, row: { tokens: [decoderStartTokenId], logprob: 0 } }));
    let cache: DecoderCache | undefined;
    while (active.length > 0) {
      const step = useCache && cache ? await model.decodeStep(active.map((a) => a.row.tokens.at(-1)!), encoder, cache) : await model.decodeFull(active.map((a) => a.row.tokens), encoder);
      if (useCache) cache = step.cache;
      const logits = lastPositionLogits(step.logits);
      cancelCheck();
      const next: { state: RequestState; source: number; row: Row }[] = [];
      for (let start = 0; start < active.length; ) {
        const state = active[start]!.state;
        let end = start;
        while (end < active.length && active[end]!.state === state) end++;
        if (!state.done) {
          const rows = active.slice(start, end).map((a) => a.row);
          for (const n of state.advance(rows, logits.slice(start, end), start)) next.push({ state, ...n });
        }
        start = end;
      }
      if (next.length === 0) break;
      const sources = next.map((n) => n.source);
      const sameRows = sources.length === active.length && sources.every((s, i) => s === i);
      const sameRequests = sources.length === active.length && sources.every((s, i) => active[s]!.state === active[i]!.state);
      if (!sameRequests) encoder = { hiddenStates: gatherRows(encoder.hiddenStates, sources), attentionMask: gatherRows(encoder.attentionMask, sources) };
      if (cache) {
        cache = {
          decoder: sameRows ? cache.decoder : cache.decoder.map((t) => gatherRows(t, sources)),
          // Beams of one request share their cross-attention cache: it only moves when the requests do.
          encoder: sameRequests ? cache.encoder : cache.encoder.map((t) => gatherRows(t, sources)),
        };
      }
      active = next.map(({ state, row }) => ({ state, row }));
    }
  }
  return states.map((s) => s.error ?? s.result(startedAt, requests.length, encoderLength));
}
