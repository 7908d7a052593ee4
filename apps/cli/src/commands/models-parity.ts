// `curator models parity`: Curator's converted model against a reference ONNX export (optimum's,
// the published Xenova/t5-small, or a torch.onnx export) on fixed inputs. Reports the largest
// |difference| per output and, for T5, whether greedy and beam search give the same tokens.
// Anyone with internet checks a real conversion this way (docs/models.md, "Parity").
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from '@curator/inference/ort';
import { decodeFloat16, encodeFloat16 } from '@curator/inference/float16';
import { CuratorError } from '@curator/contracts';
import type { ConvertiblePrecision, ModelRole } from '@curator/models';
import { loadTokenizer, type TextTokenizer } from '@curator/tokenizers';
import { Seq2SeqModel, generateBatch, resolveOptions, type GenerationResult, type Stage } from '@curator/textgen';

export interface ParityOptions {
  role: ModelRole;
  /** Curator's model folder (converted files at its root). */
  modelDir: string;
  /** The reference export: optimum's layout (root or onnx/). */
  referenceDir: string;
  precision: ConvertiblePrecision;
  tolerance: number;
}

export interface OutputComparison {
  part: string;
  output: string;
  shape: number[];
  maxAbsDifference: number;
  /** The largest |value| of the reference output, for scale. */
  maxAbsReference: number;
}

export interface SequenceComparison {
  mode: string;
  inputs: number;
  identical: number;
  /** The first input whose tokens differ. */
  firstDifference?: { input: number; curator: number[]; reference: number[] };
}

export interface ParityReport {
  role: ModelRole;
  modelDir: string;
  referenceDir: string;
  precision: ConvertiblePrecision;
  tolerance: number;
  /** `texts` when the model folder has a tokenizer, else seeded token ids. */
  inputs: 'texts' | 'seeded ids';
  outputs: OutputComparison[];
  sequences: SequenceComparison[];
  match: boolean;
}

const sampleTexts = [
  'The government announced a new plan on Tuesday to cut energy prices for households and small companies.',
  'Shares in the chipmaker rose sharply after record quarterly profits.',
  'The team won the cup final after a late goal in extra time.',
  'Police said the road would stay closed until the storm had passed.',
];

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** A file of an export at its root or under onnx/ (Xenova's layout). */
async function findFile(dir: string, name: string): Promise<string> {
  for (const candidate of [join(dir, name), join(dir, 'onnx', name)]) if (await exists(candidate)) return candidate;
  throw new CuratorError('model_missing', `${dir}: no ${name} (at the root or in onnx/)`);
}

async function readConfig(dir: string): Promise<Record<string, unknown>> {
  for (const candidate of [join(dir, 'config.json')]) {
    if (await exists(candidate)) return JSON.parse(await readFile(candidate, 'utf8')) as Record<string, unknown>;
  }
  throw new CuratorError('model_missing', `${dir}: no config.json`);
}

async function optionalTokenizer(dir: string): Promise<TextTokenizer | undefined> {
  try {
    return await loadTokenizer(dir, { preprocessing: 'huggingface' });
  } catch {
    return undefined;
  }
}

/** Deterministic ids in [low, high): the same inputs on every run and machine. */
function seededIds(seed: number, length: number, low: number, high: number): number[] {
  let state = seed >>> 0 || 1;
  return Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return low + (state % Math.max(1, high - low));
  });
}

function floats(tensor: ort.Tensor): Float32Array {
  return tensor.type === 'float16' ? decodeFloat16(tensor.data as Uint16Array) : (tensor.data as Float32Array);
}

function compare(part: string, output: string, curator: ort.Tensor, reference: ort.Tensor): OutputComparison {
  if (curator.dims.join() !== reference.dims.join()) {
    throw new CuratorError('model_unsupported', `${part} ${output}: Curator's is [${curator.dims.join(', ')}], the reference's [${reference.dims.join(', ')}]`);
  }
  const a = floats(curator);
  const b = floats(reference);
  let maxAbsDifference = 0;
  let maxAbsReference = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbsDifference = Math.max(maxAbsDifference, Math.abs(a[i]! - b[i]!));
    maxAbsReference = Math.max(maxAbsReference, Math.abs(b[i]!));
  }
  return { part, output, shape: [...curator.dims], maxAbsDifference, maxAbsReference };
}

function inputType(session: ort.InferenceSession, name: string): string | undefined {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta?.isTensor ? meta.type : undefined;
}

function intTensor(type: string, rows: readonly (readonly number[])[]): ort.Tensor {
  const flat = rows.flat();
  const dims = [rows.length, rows[0]?.length ?? 0];
  return type === 'int32' ? new ort.Tensor('int32', Int32Array.from(flat), dims) : new ort.Tensor('int64', BigInt64Array.from(flat, (v) => BigInt(v)), dims);
}

function floatTensor(type: string, values: Float32Array, dims: number[]): ort.Tensor {
  return type === 'float16' ? new ort.Tensor('float16', encodeFloat16(values), dims) : new ort.Tensor('float32', values, dims);
}

/** Seeded standard normals (Box-Muller over the same generator as the ids). */
function seededNormals(seed: number, count: number): Float32Array {
  const uniform = seededIds(seed, count * 2, 1, 2 ** 31).map((v) => v / 2 ** 31);
  return Float32Array.from({ length: count }, (_, i) => Math.sqrt(-2 * Math.log(uniform[2 * i]!)) * Math.cos(2 * Math.PI * uniform[2 * i + 1]!));
}

async function session(path: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { logSeverityLevel: 3, graphOptimizationLevel: 'all' });
}

const suffix = (precision: ConvertiblePrecision) => (precision === 'fp16' ? '_fp16' : '');

// ---------- classifiers ----------

async function classifierParity(options: ParityOptions, report: ParityReport): Promise<void> {
  const config = await readConfig(options.modelDir);
  const tokenizer = await optionalTokenizer(options.modelDir);
  let rows: number[][];
  let masks: number[][];
  if (tokenizer) {
    const batch = tokenizer.encodeBatch(sampleTexts, { maxLength: 128, padTo: 'longest' });
    rows = batch.inputIds.map((r) => [...r]);
    masks = batch.attentionMask.map((r) => [...r]);
  } else {
    report.inputs = 'seeded ids';
    const vocab = Number(config.vocab_size ?? 100);
    const pad = Number(config.pad_token_id ?? 0);
    const lengths = [12, 7, 16, 3];
    const width = Math.max(...lengths);
    rows = lengths.map((length, i) => [...seededIds(17 + i, length, 3, vocab), ...new Array<number>(width - length).fill(pad)]);
    masks = lengths.map((length) => Array.from({ length: width }, (_, j) => (j < length ? 1 : 0)));
  }
  const curator = await session(join(options.modelDir, `model${suffix(options.precision)}.onnx`));
  const reference = await session(await findFile(options.referenceDir, 'model.onnx'));
  try {
    const feeds = (s: ort.InferenceSession) => {
      const all: Record<string, ort.Tensor> = {
        input_ids: intTensor(inputType(s, 'input_ids') ?? 'int64', rows),
        attention_mask: intTensor(inputType(s, 'attention_mask') ?? 'int64', masks),
        token_type_ids: intTensor(inputType(s, 'token_type_ids') ?? 'int64', rows.map((r) => r.map(() => 0))),
      };
      return Object.fromEntries(s.inputNames.map((name) => [name, all[name]!]));
    };
    const [a, b] = [await curator.run(feeds(curator)), await reference.run(feeds(reference))];
    report.outputs.push(compare('model', 'logits', a.logits!, b.logits!));
  } finally {
    await curator.release();
    await reference.release();
  }
}

// ---------- T5 ----------

function sameTokens(mode: string, curator: (GenerationResult | Error)[], reference: (GenerationResult | Error)[]): SequenceComparison {
  const comparison: SequenceComparison = { mode, inputs: curator.length, identical: 0 };
  curator.forEach((result, input) => {
    const other = reference[input]!;
    if (result instanceof Error) throw result;
    if (other instanceof Error) throw other;
    const a = result.sequences.map((s) => s.tokens);
    const b = other.sequences.map((s) => s.tokens);
    if (JSON.stringify(a) === JSON.stringify(b)) comparison.identical++;
    else comparison.firstDifference ??= { input, curator: a[0] ?? [], reference: b[0] ?? [] };
  });
  return comparison;
}

async function t5Parity(options: ParityOptions, report: ParityReport): Promise<void> {
  const curator = await Seq2SeqModel.load({ modelDir: options.modelDir, precision: options.precision });
  const reference = await Seq2SeqModel.load({ modelDir: options.referenceDir, precision: 'fp32' });
  try {
    const tokenizer = await optionalTokenizer(options.modelDir);
    const stage: Stage = options.role === 'headline' ? 'headline' : 'summarize';
    const eos = curator.generation.eosTokenIds[0] ?? 1;
    let inputs: number[][];
    if (tokenizer) {
      inputs = sampleTexts.map((text) => [...tokenizer.encode(stage === 'summarize' ? `summarize: ${text}` : text, { maxLength: 512 }).inputIds]);
    } else {
      report.inputs = 'seeded ids';
      inputs = [14, 9, 20, 5].map((length, i) => [...seededIds(31 + i, length, 3, curator.vocabSize), eos]);
    }
    const [encodedA, encodedB] = [await curator.encode(inputs), await reference.encode(inputs)];
    report.outputs.push(compare('encoder_model', 'last_hidden_state', encodedA.hiddenStates, encodedB.hiddenStates));
    const start = curator.generation.decoderStartTokenId;
    const decoderIds = inputs.map((_, i) => [start, ...seededIds(71 + i, 5, 3, curator.vocabSize)]);
    const [stepA, stepB] = [await curator.decodeFull(decoderIds, encodedA), await reference.decodeFull(decoderIds, encodedB)];
    report.outputs.push(compare('decoder', 'logits', stepA.logits, stepB.logits));

    const runs: { mode: string; options: Parameters<typeof resolveOptions>[0]; stage?: Stage }[] = [
      { mode: 'greedy, 20 new tokens', options: { numBeams: 1, maxNewTokens: 20 } },
      { mode: `${stage} stage (beam search)`, options: {}, stage },
    ];
    for (const run of runs) {
      const generate = (model: Seq2SeqModel) => generateBatch(model, inputs.map((inputIds) => ({ inputIds, options: resolveOptions(run.options, model.generation, run.stage) })));
      report.sequences.push(sameTokens(run.mode, await generate(curator), await generate(reference)));
    }
  } finally {
    await curator.close();
    await reference.close();
  }
}

// ---------- Stable Diffusion ----------

async function diffusionParity(options: ParityOptions, report: ParityReport): Promise<void> {
  const file = (part: string) => join(options.modelDir, part, `model${suffix(options.precision)}.onnx`);
  const tokenizer = await optionalTokenizer(join(options.modelDir, 'tokenizer'));
  const textConfig = await readConfig(join(options.modelDir, 'text_encoder'));
  const ids = tokenizer
    ? tokenizer.encodeBatch(sampleTexts.slice(0, 2), { maxLength: 77, padTo: 77 }).inputIds.map((r) => [...r])
    : [0, 1].map((i) => seededIds(5 + i, 77, 0, Number(textConfig.vocab_size ?? 49408)));
  if (!tokenizer) report.inputs = 'seeded ids';
  const pair = async (part: string) => [await session(file(part)), await session(await findFile(join(options.referenceDir, part), 'model.onnx'))] as const;
  const floatOf = (s: ort.InferenceSession, name: string) => inputType(s, name) ?? 'float32';

  const [textA, textB] = await pair('text_encoder');
  let hidden: Float32Array;
  let hiddenDims: number[];
  try {
    const feed = (s: ort.InferenceSession) => ({ input_ids: intTensor(inputType(s, 'input_ids') ?? 'int64', ids) });
    const [a, b] = [await textA.run(feed(textA)), await textB.run(feed(textB))];
    report.outputs.push(compare('text_encoder', 'last_hidden_state', a.last_hidden_state!, b.last_hidden_state!));
    hidden = Float32Array.from(floats(b.last_hidden_state!));
    hiddenDims = [...b.last_hidden_state!.dims];
  } finally {
    await textA.release();
    await textB.release();
  }

  const latent = seededNormals(11, 2 * 4 * 8 * 8);
  const [unetA, unetB] = await pair('unet');
  try {
    const feed = (s: ort.InferenceSession) => {
      const timestepType = inputType(s, 'timestep') ?? 'int64';
      const shape = s.inputMetadata.find((m) => m.name === 'timestep');
      const dims = shape?.isTensor && shape.shape.length === 0 ? [] : [1];
      const timestep =
        timestepType === 'int64' ? new ort.Tensor('int64', BigInt64Array.from([500n]), dims)
        : timestepType === 'int32' ? new ort.Tensor('int32', Int32Array.from([500]), dims)
        : floatTensor(timestepType, Float32Array.from([500]), dims);
      return { sample: floatTensor(floatOf(s, 'sample'), latent, [2, 4, 8, 8]), timestep, encoder_hidden_states: floatTensor(floatOf(s, 'encoder_hidden_states'), hidden, hiddenDims) };
    };
    const [a, b] = [await unetA.run(feed(unetA)), await unetB.run(feed(unetB))];
    report.outputs.push(compare('unet', 'out_sample', a.out_sample!, b.out_sample!));
  } finally {
    await unetA.release();
    await unetB.release();
  }

  const [vaeA, vaeB] = await pair('vae_decoder');
  try {
    const feed = (s: ort.InferenceSession) => ({ latent_sample: floatTensor(floatOf(s, 'latent_sample'), latent, [2, 4, 8, 8]) });
    const [a, b] = [await vaeA.run(feed(vaeA)), await vaeB.run(feed(vaeB))];
    report.outputs.push(compare('vae_decoder', 'sample', a.sample!, b.sample!));
  } finally {
    await vaeA.release();
    await vaeB.release();
  }
}

/** Runs both models on the same fixed inputs and compares their outputs (and, for T5, their tokens). */
export async function runParity(options: ParityOptions): Promise<ParityReport> {
  const report: ParityReport = { role: options.role, modelDir: options.modelDir, referenceDir: options.referenceDir, precision: options.precision, tolerance: options.tolerance, inputs: 'texts', outputs: [], sequences: [], match: false };
  if (options.role === 'sentiment' || options.role === 'genre') await classifierParity(options, report);
  else if (options.role === 'summarizer' || options.role === 'headline') await t5Parity(options, report);
  else await diffusionParity(options, report);
  report.match = report.outputs.every((o) => o.maxAbsDifference <= options.tolerance) && report.sequences.every((s) => s.identical === s.inputs);
  return report;
}

export function formatParity(report: ParityReport): string {
  const lines = [`${report.role}: ${report.modelDir} (${report.precision}) against ${report.referenceDir}, on ${report.inputs}`];
  for (const o of report.outputs) {
    const verdict = o.maxAbsDifference <= report.tolerance ? 'ok' : 'DIFFERS';
    lines.push(`  ${o.part} ${o.output} [${o.shape.join(', ')}]: max |difference| ${o.maxAbsDifference.toExponential(2)} (values up to ${o.maxAbsReference.toFixed(2)})  ${verdict}`);
  }
  for (const s of report.sequences) {
    lines.push(`  ${s.mode}: ${s.identical}/${s.inputs} identical token for token${s.firstDifference ? ` (input ${s.firstDifference.input}: ${s.firstDifference.curator.join(' ')} vs ${s.firstDifference.reference.join(' ')})` : ''}`);
  }
  lines.push(report.match ? `MATCH within ${report.tolerance}` : `MISMATCH (tolerance ${report.tolerance})`);
  return lines.join('\n');
}
