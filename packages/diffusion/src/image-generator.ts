import sharp from 'sharp';
import { ModelThread } from '@curator/inference';
import { CuratorError } from '@curator/contracts';
import type { DenoiseProgress, DiffusionEngineInfo, GenerateArgs, GenerateOutput } from './engine.ts';
import type { SchedulerName } from './schedulers.ts';
import { randomSeed } from './noise.ts';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export const contentTypes: Record<ImageFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

export interface ImageGeneratorLoadOptions {
  /** Folder of an ONNX Stable Diffusion export (text_encoder/, unet/, vae_decoder/, tokenizer/, scheduler/). */
  modelDir: string;
  modelId?: string;
  precision?: 'fp32' | 'fp16';
  /** onnxruntime execution providers, e.g. ['cuda', 'cpu']; default ['cpu']. */
  executionProviders?: string[];
  sessionOptions?: Record<string, unknown>;
  onLog?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface GenerateRequest {
  prompt: string;
  negativePrompt?: string;
  steps: number;
  /** 7.5 when omitted; 1 or less runs the conditional half only. */
  guidanceScale?: number;
  width: number;
  height: number;
  /** Picked at random (and reported) when absent. Image i uses seed + i. */
  seed?: number;
  numImages?: number;
  /** The model's own scheduler when absent. */
  scheduler?: SchedulerName;
  format?: ImageFormat;
}

export interface GeneratedImage {
  /** The encoded image. */
  data: Buffer;
  width: number;
  height: number;
  seed: number;
  format: ImageFormat;
  contentType: string;
}

export interface GenerateResult {
  images: GeneratedImage[];
  scheduler: SchedulerName;
  steps: number;
  guidanceScale: number;
  seed: number;
}

export interface GenerateCallOptions {
  /** Called after every denoising step (every UNet evaluation). */
  onProgress?: (progress: DenoiseProgress) => void;
  signal?: AbortSignal;
}

/** Encodes interleaved RGB with sharp (libvips, off the JavaScript thread). */
export async function encodeRgb(rgb: Uint8Array, width: number, height: number, format: ImageFormat): Promise<Buffer> {
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  switch (format) {
    case 'png':
      return image.png().toBuffer();
    case 'jpeg':
      return image.jpeg({ quality: 90 }).toBuffer();
    case 'webp':
      return image.webp({ quality: 90 }).toBuffer();
    default:
      throw new CuratorError('bad_input', `Unsupported image format "${String(format)}"`);
  }
}

/**
 * Text to image with a Stable Diffusion ONNX export. The model runs in a worker thread of its own;
 * calls queue there and run one at a time.
 */
export class ImageGenerator {
  private readonly thread: ModelThread;

  private constructor(thread: ModelThread) {
    this.thread = thread;
  }

  static async load(options: ImageGeneratorLoadOptions): Promise<ImageGenerator> {
    const thread = await ModelThread.start({
      module: new URL('./engine.ts', import.meta.url),
      name: `diffusion:${options.modelId ?? options.modelDir}`,
      options: {
        modelDir: options.modelDir,
        modelId: options.modelId,
        precision: options.precision,
        executionProviders: options.executionProviders,
        sessionOptions: options.sessionOptions,
      },
      onLog: options.onLog,
    });
    return new ImageGenerator(thread);
  }

  get info(): DiffusionEngineInfo {
    return this.thread.info as DiffusionEngineInfo;
  }

  async generate(request: GenerateRequest, options: GenerateCallOptions = {}): Promise<GenerateResult> {
    const format = request.format ?? 'png';
    if (!(format in contentTypes)) throw new CuratorError('bad_input', `Unsupported image format "${String(format)}"`);
    const args: GenerateArgs = {
      prompt: request.prompt,
      negativePrompt: request.negativePrompt,
      steps: request.steps,
      guidanceScale: request.guidanceScale ?? 7.5,
      width: request.width,
      height: request.height,
      seed: request.seed ?? randomSeed(),
      numImages: request.numImages ?? 1,
      scheduler: request.scheduler,
    };
    const output = await this.thread.call<GenerateOutput, DenoiseProgress>('generate', args, { onProgress: options.onProgress, signal: options.signal });
    const images = await Promise.all(
      output.images.map(async (image) => ({
        data: await encodeRgb(image.rgb, image.width, image.height, format),
        width: image.width,
        height: image.height,
        seed: image.seed,
        format,
        contentType: contentTypes[format],
      })),
    );
    return { images, scheduler: output.scheduler, steps: output.steps, guidanceScale: output.guidanceScale, seed: output.seed };
  }

  /** One small guided step through all three models, so the first job does not pay for lazy initialisation. */
  async warmup(options: { width?: number; height?: number; steps?: number } = {}): Promise<number> {
    const started = performance.now();
    await this.thread.call('generate', {
      prompt: '',
      steps: options.steps ?? 1,
      guidanceScale: 7.5,
      width: options.width ?? 64,
      height: options.height ?? 64,
      seed: 0,
      numImages: 1,
    } satisfies GenerateArgs);
    return performance.now() - started;
  }

  stats(): { calls: number; busyMs: number; inFlight: number } {
    return this.thread.stats();
  }

  async close(): Promise<void> {
    await this.thread.close();
  }
}
