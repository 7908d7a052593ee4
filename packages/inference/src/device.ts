import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { CuratorError } from '@curator/contracts';

export type DeviceRequest = 'auto' | 'cuda' | 'cpu';
export type ResolvedDevice = 'cpu' | `cuda:${number}`;

export interface DeviceLog {
  info(message: string): void;
  warn(message: string): void;
}

export interface DeviceOptions {
  device: DeviceRequest;
  deviceId: number;
  log?: DeviceLog;
}

export type ExecutionProviders = NonNullable<ort.InferenceSession.SessionOptions['executionProviders']>;

export interface DeviceChoice {
  device: ResolvedDevice;
  /** Pass to `InferenceSession.create(path, { executionProviders })`. */
  executionProviders: ExecutionProviders;
  /** fp16 where the device runs it fast (CUDA), else fp32. */
  preferredPrecision: 'fp16' | 'fp32';
  /** Why `auto` ended on the CPU. */
  fallbackReason?: string;
}

/** The smallest model that makes onnxruntime load an execution provider: y = Identity(x). */
function probeModel(): Uint8Array {
  const { onnx } = onnxProto;
  const tensor = { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } };
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'curator-device-probe',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'probe', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }], input: [{ name: 'x', type: tensor }], output: [{ name: 'y', type: tensor }] },
  }).finish();
}

class MissingCudaProvider extends Error {
  readonly path: string;
  constructor(path: string) {
    super(`${path} is not installed`);
    this.path = path;
  }
}

const cudaLibraries = ['libcudnn', 'libcublasLt', 'libcublas', 'libcudart', 'libcufft', 'libcurand', 'libnvinfer', 'libonnxruntime_providers_cuda', 'libonnxruntime_providers_shared'];

/** Turns onnxruntime's CUDA load failure into a sentence that names what is missing. */
export function explainCudaFailure(error: unknown, cudaBundled: boolean | undefined): string {
  if (error instanceof MissingCudaProvider) {
    return `onnxruntime-node has no CUDA provider installed (${error.path} is missing): reinstall it on the GPU machine with ONNXRUNTIME_NODE_INSTALL=cuda12 (needs CUDA 12 and cuDNN 9)`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const library = cudaLibraries.find((name) => message.includes(name));
  const detail = message.replace(/\u001b\[[0-9;]*m/g, '').split('\n')[0]!.trim();
  if (library?.startsWith('libonnxruntime_providers') || (library === undefined && cudaBundled === false && /load|shared library/i.test(message))) {
    return (
      `onnxruntime-node has no CUDA provider installed (${library ?? 'libonnxruntime_providers_cuda.so'} not found): ` +
      `reinstall it on the GPU machine with ONNXRUNTIME_NODE_INSTALL=cuda12 (needs CUDA 12 and cuDNN 9). onnxruntime said: ${detail}`
    );
  }
  if (library) return `CUDA library ${library} could not be loaded: install it (CUDA 12 / cuDNN 9) and put it on LD_LIBRARY_PATH. onnxruntime said: ${detail}`;
  return `the CUDA provider failed to start: ${detail}`;
}

/**
 * Where onnxruntime-node keeps its CUDA provider (installed beside the binding by its install
 * script with ONNXRUNTIME_NODE_INSTALL=cuda12). Undefined where the layout is unknown.
 */
export function cudaProviderLibrary(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));
    return join(dist, '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  } catch {
    return undefined;
  }
}

let cudaProbe: Promise<void> | undefined;
let cudaProbeDevice: number | undefined;

async function probeCuda(deviceId: number): Promise<void> {
  // Without the provider library the probe can only fail, and onnxruntime would print its own error first.
  const library = cudaProviderLibrary();
  if (library !== undefined && !existsSync(library)) throw new MissingCudaProvider(library);
  const session = await ort.InferenceSession.create(probeModel(), { executionProviders: [{ name: 'cuda', deviceId }], logSeverityLevel: 4 });
  await session.release();
}

/**
 * Chooses where models run. `auto` tries CUDA with a tiny probe session and falls back to the
 * CPU with one log line that says why; `cuda` fails with `device_unavailable` instead.
 */
export async function resolveExecutionProviders(options: DeviceOptions): Promise<DeviceChoice> {
  const cpu: DeviceChoice = { device: 'cpu', executionProviders: ['cpu'], preferredPrecision: 'fp32' };
  if (options.device === 'cpu') return cpu;

  const cudaBundled = ort.listSupportedBackends?.().find((backend) => backend.name === 'cuda')?.bundled;
  // One probe per process and device: every model of a worker asks the same question.
  if (cudaProbe === undefined || cudaProbeDevice !== options.deviceId) {
    cudaProbeDevice = options.deviceId;
    cudaProbe = probeCuda(options.deviceId);
  }
  try {
    await cudaProbe;
  } catch (error) {
    const reason = explainCudaFailure(error, cudaBundled);
    if (options.device === 'cuda') {
      throw new CuratorError('device_unavailable', `CURATOR_DEVICE=cuda but cuda:${options.deviceId} is unavailable: ${reason}`, { cause: error });
    }
    options.log?.warn(`CUDA unavailable, running on CPU: ${reason}`);
    return { ...cpu, fallbackReason: reason };
  }
  options.log?.info(`Running on cuda:${options.deviceId}`);
  return {
    device: `cuda:${options.deviceId}`,
    executionProviders: [{ name: 'cuda', deviceId: options.deviceId }, 'cpu'],
    preferredPrecision: 'fp16',
  };
}

/**
 * Where sessions created with these execution providers run: the first provider takes every op it
 * supports (onnxruntime hands the CPU provider only what it lacks), so `cuda:<id>` when it is CUDA,
 * `cpu` when it is the CPU or none is given, else the provider's name.
 */
export function deviceOfProviders(providers: ExecutionProviders | undefined): string {
  const first = providers?.[0];
  const name = typeof first === 'string' ? first : first?.name;
  if (name === undefined || name === 'cpu') return 'cpu';
  if (name === 'cuda') {
    const id = typeof first === 'object' && 'deviceId' in first && typeof first.deviceId === 'number' ? first.deviceId : 0;
    return `cuda:${id}`;
  }
  return name;
}

export interface ModelSessionConfig {
  /** Intra-op threads; 0 or unset lets onnxruntime choose. */
  threads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  enableMemArena?: boolean;
}

/** Session options for one model on the chosen device. */
export function sessionOptionsFor(modelConfig: ModelSessionConfig, device: DeviceChoice): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: device.executionProviders,
    graphOptimizationLevel: modelConfig.graphOptimizationLevel ?? 'all',
    enableCpuMemArena: modelConfig.enableMemArena ?? true,
    enableMemPattern: true,
  };
  if (modelConfig.threads !== undefined && modelConfig.threads > 0) {
    options.intraOpNumThreads = modelConfig.threads;
    // Across ops the graph's own parallelism is small; one thread avoids oversubscribing the worker.
    options.interOpNumThreads = 1;
  }
  return options;
}
