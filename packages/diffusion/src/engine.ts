// The Stable Diffusion engine: runs inside a ModelThread (see @curator/inference), so the whole
// denoising loop blocks only its own thread. Returns raw RGB; encoding happens on the main side.
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from '@curator/inference/ort';
import { deviceOfProviders, type Engine, type EngineCallContext, type EngineHost } from '@curator/inference';
import { CuratorError, isCuratorError } from '@curator/contracts';
import { loadTokenizer, type TextTokenizer } from '@curator/tokenizers';
import { createScheduler, parseSchedulerConfig, resolveSchedulerConfig, schedulerNames, type Scheduler, type SchedulerConfig, type SchedulerName } from './schedulers.ts';
import { parsePythonJson } from './python-json.ts';
import { GaussianNoise } from './noise.ts';
import { decodeFloat16, encodeFloat16, float32ToFloat16Bits } from '@curator/inference/float16';

export interface DiffusionEngineOptions {
  modelDir: string;
  modelId?: string;
  /**
   * Which files to open: fp32 `<part>/model.onnx`, fp16 `<part>/model_fp16.onnx` (as optimum names
   * them). When absent: fp16 on CUDA where its files are there, else fp32, else fp16.
   */
  precision?: 'fp32' | 'fp16';
  executionProviders?: string[];
  sessionOptions?: Record<string, unknown>;
}

export interface GenerateArgs {
  prompt: string;
  negativePrompt?: string;
  steps: number;
  guidanceScale: number;
  width: number;
  height: number;
  seed: number;
  numImages: number;
  scheduler?: SchedulerName;
}

export interface RawImage {
  /** Interleaved RGB, row-major. */
  rgb: Uint8Array;
  width: number;
  height: number;
  seed: number;
}

export interface GenerateOutput {
  images: RawImage[];
  scheduler: SchedulerName;
  steps: number;
  guidanceScale: number;
  seed: number;
  /** UNet evaluations (PNDM makes one more than `steps`). */
  modelEvaluations: number;
}

/** Denoising steps done out of those asked for (PNDM's extra model evaluations are not steps). */
export interface DenoiseProgress {
  step: number;
  steps: number;
}

export interface DiffusionEngineInfo {
  modelId: string;
  precision: 'fp32' | 'fp16';
  /** The ONNX files opened, relative to the model folder. */
  files: string[];
  executionProviders: string[];
  /** Where the sessions run: `cpu` or `cuda:<id>` (from their execution providers). */
  device: string;
  defaultScheduler: SchedulerName;
  scalingFactor: number;
  loadMs: number;
  textSequenceLength: number;
}

const latentChannels = 4;
const clipLength = 77;

type FloatType = 'float32' | 'float16';

function tensorType(session: ort.InferenceSession, input: string): string {
  const meta = session.inputMetadata.find((m) => m.name === input);
  if (!meta) throw new CuratorError('model_load_failed', `The model has no input "${input}" (inputs: ${session.inputNames.join(', ')})`);
  return meta.isTensor ? meta.type : 'unknown';
}

function inputShape(session: ort.InferenceSession, input: string): ReadonlyArray<number | string> {
  const meta = session.inputMetadata.find((m) => m.name === input);
  return meta && meta.isTensor ? meta.shape : [];
}

function floatType(type: string, what: string): FloatType {
  if (type === 'float32' || type === 'float16') return type;
  throw new CuratorError('model_load_failed', `${what} must be float32 or float16, the model has ${type}`);
}

function expectOutput(session: ort.InferenceSession, name: string, model: string): void {
  if (!session.outputNames.includes(name)) {
    throw new CuratorError('model_load_failed', `${model} has no output "${name}" (outputs: ${session.outputNames.join(', ')})`);
  }
}

async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return null;
    throw new CuratorError('model_missing', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return parsePythonJson(text) as Record<string, unknown>;
  } catch (error) {
    throw new CuratorError('model_load_failed', `${path} is not valid JSON`, { cause: error });
  }
}

/** Float data of an output tensor as float32 (copied into `target` when given). */
function floatsOf(tensor: ort.Tensor, target?: Float32Array): Float32Array {
  if (tensor.type === 'float16') return decodeFloat16(tensor.data as Uint16Array, target);
  if (tensor.type !== 'float32') throw new CuratorError('inference_failed', `Expected a float tensor, got ${tensor.type}`);
  const data = tensor.data as Float32Array;
  if (target) {
    target.set(data);
    return target;
  }
  return data;
}

function floatTensor(type: FloatType, values: Float32Array, dims: number[], halfBuffer?: Uint16Array): ort.Tensor {
  if (type === 'float16') return new ort.Tensor('float16', encodeFloat16(values, halfBuffer), dims);
  return new ort.Tensor('float32', values, dims);
}

const modelParts = ['text_encoder', 'unet', 'vae_decoder'] as const;
const fileNames = { fp32: 'model.onnx', fp16: 'model_fp16.onnx' } as const;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The file name every part is opened by. fp16 files carry `_fp16` (as optimum's and transformers.js'
 * exports name them); an fp16 export that calls them `model.onnx` is opened by that name, and its
 * element types tell its precision. Without a precision: fp16 on CUDA, where it is fast, else fp32.
 */
export async function modelFileName(dir: string, precision: 'fp32' | 'fp16' | undefined, device: string): Promise<string> {
  const order: Array<'fp32' | 'fp16'> = precision === 'fp32' ? ['fp32'] : precision === 'fp16' || device.startsWith('cuda') ? ['fp16', 'fp32'] : ['fp32', 'fp16'];
  for (const candidate of order) {
    const name = fileNames[candidate];
    if ((await Promise.all(modelParts.map((part) => exists(join(dir, part, name))))).every(Boolean)) return name;
  }
  // Report the first choice's name: loading it fails with model_missing naming the part that lacks it.
  return fileNames[order[0]!];
}

function validate(args: GenerateArgs): void {
  const problems: Array<{ path: string; message: string }> = [];
  if (typeof args.prompt !== 'string') problems.push({ path: 'prompt', message: 'must be a string' });
  if (!Number.isInteger(args.steps) || args.steps < 1 || args.steps > 1000) problems.push({ path: 'steps', message: 'must be an integer from 1 to 1000' });
  for (const key of ['width', 'height'] as const) {
    if (!Number.isInteger(args[key]) || args[key] < 8 || args[key] % 8 !== 0) problems.push({ path: key, message: 'must be a positive multiple of 8' });
  }
  if (!Number.isInteger(args.numImages) || args.numImages < 1) problems.push({ path: 'numImages', message: 'must be a positive integer' });
  if (!Number.isFinite(args.guidanceScale) || args.guidanceScale < 0) problems.push({ path: 'guidanceScale', message: 'must be a number >= 0' });
  if (!Number.isInteger(args.seed) || args.seed < 0 || args.seed > 0xffffffff) problems.push({ path: 'seed', message: 'must be an integer from 0 to 2^32-1' });
  if (args.scheduler !== undefined && !schedulerNames.includes(args.scheduler)) problems.push({ path: 'scheduler', message: `must be one of ${schedulerNames.join(', ')}` });
  if (problems.length > 0) throw new CuratorError('bad_input', `Invalid ${problems[0]!.path}: ${problems[0]!.message}`, { details: problems });
}

export class StableDiffusion {
  readonly info: DiffusionEngineInfo;
  private readonly textEncoder: ort.InferenceSession;
  private readonly unet: ort.InferenceSession;
  private readonly vae: ort.InferenceSession;
  private readonly tokenizer: TextTokenizer;
  private readonly schedulerConfig: SchedulerConfig;
  private readonly idsType: string;
  private readonly timestepType: string;
  private readonly timestepDims: 'scalar' | 'one' | 'batch';
  private readonly unetFloat: FloatType;
  private readonly vaeFloat: FloatType;
  // Step buffers kept between jobs of the same shape: the UNet input and its fp16 copy.
  private buffers: { key: string; unetInput: Float32Array; unetHalf: Uint16Array | null; scaled: Float32Array } | null = null;

  private constructor(fields: {
    info: DiffusionEngineInfo;
    textEncoder: ort.InferenceSession;
    unet: ort.InferenceSession;
    vae: ort.InferenceSession;
    tokenizer: TextTokenizer;
    schedulerConfig: SchedulerConfig;
  }) {
    this.info = fields.info;
    this.textEncoder = fields.textEncoder;
    this.unet = fields.unet;
    this.vae = fields.vae;
    this.tokenizer = fields.tokenizer;
    this.schedulerConfig = fields.schedulerConfig;
    this.idsType = tensorType(this.textEncoder, 'input_ids');
    if (this.idsType !== 'int32' && this.idsType !== 'int64') throw new CuratorError('model_load_failed', `input_ids must be int32 or int64, not ${this.idsType}`);
    this.timestepType = tensorType(this.unet, 'timestep');
    if (!['int64', 'int32', 'float32', 'float16'].includes(this.timestepType)) throw new CuratorError('model_load_failed', `Unsupported timestep type ${this.timestepType}`);
    const shape = inputShape(this.unet, 'timestep');
    this.timestepDims = shape.length === 0 ? 'scalar' : shape[0] === 1 ? 'one' : 'batch';
    this.unetFloat = floatType(tensorType(this.unet, 'sample'), 'unet sample');
    this.vaeFloat = floatType(tensorType(this.vae, 'latent_sample'), 'vae_decoder latent_sample');
    tensorType(this.unet, 'encoder_hidden_states');
    expectOutput(this.textEncoder, 'last_hidden_state', 'text_encoder');
    expectOutput(this.unet, 'out_sample', 'unet');
    expectOutput(this.vae, 'sample', 'vae_decoder');
  }

  static async load(options: DiffusionEngineOptions): Promise<StableDiffusion> {
    const started = performance.now();
    const dir = options.modelDir;
    const modelIndex = await readJson(join(dir, 'model_index.json'), false);
    const schedulerJson = await readJson(join(dir, 'scheduler', 'scheduler_config.json'), true);
    const vaeConfig = (await readJson(join(dir, 'vae_decoder', 'config.json'), false)) ?? (await readJson(join(dir, 'vae', 'config.json'), false)) ?? {};
    const scalingFactor = typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : 0.18215;
    const schedulerFile = join(dir, 'scheduler', 'scheduler_config.json');
    // model_index.json names the scheduler class the pipeline loads: ["diffusers", "PNDMScheduler"].
    const indexed = modelIndex?.scheduler;
    const pipelineClass = Array.isArray(indexed) && typeof indexed[1] === 'string' ? indexed[1] : undefined;
    const schedulerConfig = parseSchedulerConfig(schedulerJson!, { file: schedulerFile, pipelineClass });
    // The model's own scheduler must run as its file configures it; the others are checked per request.
    resolveSchedulerConfig(schedulerConfig.defaultScheduler, schedulerConfig, schedulerFile);
    const executionProviders = options.executionProviders ?? ['cpu'];
    const device = deviceOfProviders(executionProviders);
    const sessionOptions = {
      graphOptimizationLevel: 'all',
      ...options.sessionOptions,
      executionProviders,
    } as ort.InferenceSession.SessionOptions;
    const fileName = await modelFileName(dir, options.precision, device);
    const open = async (part: string) => {
      const path = join(dir, part, fileName);
      try {
        // From a path, so onnxruntime finds external weights (model.onnx_data) next to the model.
        return await ort.InferenceSession.create(path, sessionOptions);
      } catch (error) {
        const message = (error as Error).message;
        const missing = /no such file|does not exist|ENOENT|Load model from .* failed/i.test(message);
        throw new CuratorError(missing ? 'model_missing' : 'model_load_failed', `Cannot load ${path}: ${message}`, { cause: error });
      }
    };
    const tokenizer = await loadTokenizer(join(dir, 'tokenizer'));
    const [textEncoder, unet, vae] = [await open(modelParts[0]), await open(modelParts[1]), await open(modelParts[2])];
    const sampleType = tensorType(unet, 'sample');
    // `_fp16` files are fp16 whatever their I/O types (an export may keep float32 I/O); a plain
    // model.onnx is what its UNet takes.
    const precision = fileName === fileNames.fp16 || sampleType === 'float16' ? 'fp16' : 'fp32';
    if (options.precision && options.precision !== precision) {
      throw new CuratorError('model_load_failed', `${join(dir, 'unet', fileName)} is an ${precision} model, ${options.precision} was asked for`);
    }
    return new StableDiffusion({
      info: {
        modelId: options.modelId ?? dir,
        precision,
        files: modelParts.map((part) => `${part}/${fileName}`),
        executionProviders: executionProviders.map((p) => (typeof p === 'string' ? p : (p as { name: string }).name)),
        device,
        defaultScheduler: schedulerConfig.defaultScheduler,
        scalingFactor,
        loadMs: Math.round(performance.now() - started),
        textSequenceLength: clipLength,
      },
      textEncoder,
      unet,
      vae,
      tokenizer,
      schedulerConfig,
    });
  }

  /** CLIP ids padded to 77 with the pad token (truncation keeps the end token). */
  private tokenIds(texts: string[]): ort.Tensor {
    const ids = texts.flatMap((text) => {
      const row = this.tokenizer.encode(text, { maxLength: clipLength }).inputIds.slice(0, clipLength);
      while (row.length < clipLength) row.push(this.tokenizer.padTokenId);
      return row;
    });
    const dims = [texts.length, clipLength];
    return this.idsType === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), dims) : new ort.Tensor('int32', Int32Array.from(ids), dims);
  }

  private timestepTensor(t: number, batch: number): ort.Tensor {
    const count = this.timestepDims === 'batch' ? batch : 1;
    const dims = this.timestepDims === 'scalar' ? [] : [count];
    switch (this.timestepType) {
      case 'int64':
        // Truncated like numpy's astype(int64) in diffusers' ONNX pipelines.
        return new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.trunc(t))), dims);
      case 'int32':
        return new ort.Tensor('int32', new Int32Array(count).fill(Math.trunc(t)), dims);
      case 'float16':
        return new ort.Tensor('float16', new Uint16Array(count).fill(float32ToFloat16Bits(t)), dims);
      default:
        return new ort.Tensor('float32', new Float32Array(count).fill(t), dims);
    }
  }

  async generate(args: GenerateArgs, ctx: EngineCallContext): Promise<GenerateOutput> {
    validate(args);
    const schedulerName = args.scheduler ?? this.schedulerConfig.defaultScheduler;
    const n = args.numImages;
    // Classifier-free guidance as diffusers does it: only for a scale above 1.
    const guided = args.guidanceScale > 1;
    const latentHeight = args.height / 8;
    const latentWidth = args.width / 8;
    const perImage = latentChannels * latentHeight * latentWidth;
    const scheduler = this.scheduler(schedulerName, args.steps, perImage);

    ctx.throwIfCanceled();
    const texts = guided ? [args.negativePrompt ?? '', args.prompt] : [args.prompt];
    const encoded = await this.textEncoder.run({ input_ids: this.tokenIds(texts) });
    const hidden = encoded.last_hidden_state!;
    const hiddenFloats = floatsOf(hidden);
    const rowSize = hiddenFloats.length / texts.length;
    // UNet batch: [uncond x n, cond x n] when guided, [cond x n] otherwise.
    const batch = guided ? 2 * n : n;
    const context = new Float32Array(batch * rowSize);
    for (let b = 0; b < batch; b++) {
      const source = guided ? (b < n ? 0 : 1) : 0;
      context.set(hiddenFloats.subarray(source * rowSize, (source + 1) * rowSize), b * rowSize);
    }
    const contextDims = [batch, ...hidden.dims.slice(1)];
    const contextType = floatType(tensorType(this.unet, 'encoder_hidden_states'), 'encoder_hidden_states');
    const contextTensor = floatTensor(contextType, context, contextDims);

    const noises = Array.from({ length: n }, (_, i) => new GaussianNoise((args.seed + i) >>> 0));
    const latents = new Float32Array(n * perImage);
    noises.forEach((noise, i) => noise.fill(latents, i * perImage, perImage, scheduler.initNoiseSigma));
    const ancestral = scheduler.needsNoise ? new Float32Array(n * perImage) : undefined;

    const key = `${batch}x${perImage}x${this.unetFloat}`;
    if (this.buffers?.key !== key) {
      this.buffers = {
        key,
        unetInput: new Float32Array(batch * perImage),
        unetHalf: this.unetFloat === 'float16' ? new Uint16Array(batch * perImage) : null,
        scaled: new Float32Array(n * perImage),
      };
    }
    const { unetInput, unetHalf, scaled } = this.buffers;
    const guidedOutput = new Float32Array(batch * perImage);
    const prediction = new Float32Array(n * perImage);
    const sampleDims = [batch, latentChannels, latentHeight, latentWidth];
    const total = scheduler.timesteps.length;
    let reported = 0;

    for (let i = 0; i < total; i++) {
      ctx.throwIfCanceled();
      scheduler.scaleModelInput(latents, i, scaled);
      unetInput.set(scaled, 0);
      if (guided) unetInput.set(scaled, n * perImage);
      const outputs = await this.unet.run({
        sample: floatTensor(this.unetFloat, unetInput, sampleDims, unetHalf ?? undefined),
        timestep: this.timestepTensor(scheduler.timesteps[i]!, batch),
        encoder_hidden_states: contextTensor,
      });
      const out = floatsOf(outputs.out_sample!, guidedOutput);
      if (guided) {
        const g = args.guidanceScale;
        const half = n * perImage;
        for (let k = 0; k < half; k++) {
          const uncond = out[k]!;
          prediction[k] = uncond + g * (out[half + k]! - uncond);
        }
      } else {
        prediction.set(out.subarray(0, n * perImage));
      }
      if (ancestral) noises.forEach((noise, j) => noise.fill(ancestral, j * perImage, perImage));
      scheduler.step(prediction, i, latents, { noise: ancestral });
      // Progress counts the steps asked for: PNDM's extra evaluations (one more than steps, or the
      // Runge-Kutta warm-up) report no step of their own.
      const done = scheduler.stepsDone(i);
      if (done > reported) {
        reported = done;
        ctx.progress({ step: done, steps: args.steps } satisfies DenoiseProgress);
      }
    }

    const images: RawImage[] = [];
    const latent = new Float32Array(perImage);
    for (let j = 0; j < n; j++) {
      ctx.throwIfCanceled();
      const scale = 1 / this.info.scalingFactor;
      for (let k = 0; k < perImage; k++) latent[k] = latents[j * perImage + k]! * scale;
      const decoded = await this.vae.run({ latent_sample: floatTensor(this.vaeFloat, latent, [1, latentChannels, latentHeight, latentWidth]) });
      const sample = decoded.sample!;
      const [, channels, height, width] = sample.dims as number[];
      if (channels !== 3 || height !== args.height || width !== args.width) {
        throw new CuratorError('inference_failed', `vae_decoder returned ${sample.dims.join('x')}, expected 1x3x${args.height}x${args.width}`);
      }
      images.push({ rgb: toRgb(floatsOf(sample), width, height), width, height, seed: (args.seed + j) >>> 0 });
    }
    return { images, scheduler: schedulerName, steps: args.steps, guidanceScale: args.guidanceScale, seed: args.seed, modelEvaluations: total };
  }

  /** The scheduler of a request; one the model's scheduler_config.json cannot configure is bad input. */
  private scheduler(name: SchedulerName, steps: number, imageSize: number): Scheduler {
    try {
      return createScheduler(name, this.schedulerConfig, steps, { imageSize });
    } catch (error) {
      if (!isCuratorError(error) || error.code !== 'model_load_failed') throw error;
      throw new CuratorError('bad_input', `Scheduler ${name} cannot run with this model's scheduler config: ${error.message}`, {
        details: [{ path: 'scheduler', message: error.message }],
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.textEncoder.release(), this.unet.release(), this.vae.release()]);
  }
}

/** CHW floats in [-1, 1] to interleaved RGB bytes: (x / 2 + 0.5) clamped, * 255, rounded. */
export function toRgb(chw: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  const rgb = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = chw[c * plane + p]! / 2 + 0.5;
      rgb[p * 3 + c] = Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
    }
  }
  return rgb;
}

/** Entry point for ModelThread. */
export async function createEngine(options: DiffusionEngineOptions, host: EngineHost): Promise<Engine> {
  const sd = await StableDiffusion.load(options);
  host.log('info', 'stable diffusion loaded', { model: sd.info.modelId, precision: sd.info.precision, device: sd.info.device, loadMs: sd.info.loadMs });
  return {
    info: sd.info,
    methods: {
      generate: (args: GenerateArgs, ctx) => sd.generate(args, ctx),
    },
    close: () => sd.close(),
  };
}
