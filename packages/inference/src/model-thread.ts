import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { CuratorError } from '@curator/contracts';
import type { FromThread, SerializedError, ThreadInit, ToThread } from './thread-protocol.ts';

/**
 * An engine is a module that runs inside a worker thread. onnxruntime-node's `run()` blocks the
 * thread that calls it for as long as the model runs, so every model lives in a thread of its own
 * and the worker's main loop stays free to renew job locks, report progress and serve metrics.
 * Whole algorithms (a beam search, a denoising loop) run inside the thread, so per-step tensors such
 * as the KV cache never cross threads.
 */
export interface EngineModule {
  createEngine(options: unknown, host: EngineHost): Promise<Engine>;
}

export interface EngineHost {
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

export interface Engine {
  /** Sent back once loaded (e.g. the models, device and warm-up time). */
  info?: unknown;
  methods: Record<string, (args: any, context: EngineCallContext) => unknown>;
  close?(): Promise<void> | void;
}

export interface EngineCallContext {
  progress(progress: unknown): void;
  /** Cancellation is a shared flag: it is seen even while the thread never yields to its event loop. */
  isCanceled(): boolean;
  throwIfCanceled(): void;
  /** Aborts when the call is canceled, for work that waits on the thread's event loop (a batching queue). */
  signal: AbortSignal;
}

export interface CallOptions<P> {
  onProgress?: (progress: P) => void;
  signal?: AbortSignal;
  transfer?: import('node:worker_threads').TransferListItem[];
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress: ((progress: any) => void) | undefined;
  cancelFlag: Int32Array;
  startedAt: number;
  detach(): void;
}

export interface ModelThreadOptions {
  /** URL or path of the engine module (resolved inside the thread). */
  module: string | URL;
  options: unknown;
  name: string;
  onLog?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  resourceLimits?: { maxOldGenerationSizeMb?: number };
}

export function deserializeError(error: SerializedError): CuratorError {
  if (error.code) {
    const e = new CuratorError(error.code, error.message, { details: error.details, retryable: error.retryable });
    if (error.stack) e.stack = error.stack;
    return e;
  }
  const e = new CuratorError('inference_failed', `${error.name}: ${error.message}`);
  if (error.stack) e.stack = error.stack;
  return e;
}

interface CallGate {
  /** Resolves when the gate opens. */
  opened: Promise<void>;
  open(): void;
  /** Calls waiting at the gate so far. */
  waiting: number;
  onWait: Array<() => void>;
}

let gate: CallGate | null = null;

/**
 * Test hook: holds every model call made in this process from now on at the gate, before it
 * reaches its thread, until `release()`. A test can keep a job provably in the middle of inference
 * for as long as it needs (to watch its lock being renewed, say) instead of guessing how long a
 * model takes. `reached()` resolves once `count` calls are waiting. A call whose signal aborts is let through.
 */
export function holdModelCalls(): { reached(count?: number): Promise<void>; release(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const held: CallGate = { opened, open, waiting: 0, onWait: [] };
  gate = held;
  return {
    reached: (count = 1) =>
      new Promise<void>((resolve) => {
        const check = () => (held.waiting >= count ? resolve() : held.onWait.push(check));
        check();
      }),
    release: () => {
      if (gate === held) gate = null;
      held.open();
    },
  };
}

/** One worker thread hosting one engine; calls queue in the thread and run one at a time. */
export class ModelThread {
  readonly name: string;
  readonly info: unknown;
  private readonly worker: Worker;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private exited = false;
  private busyMs = 0;
  private calls = 0;
  private readonly onLog: ModelThreadOptions['onLog'];

  private constructor(name: string, worker: Worker, info: unknown, onLog: ModelThreadOptions['onLog']) {
    this.name = name;
    this.worker = worker;
    this.info = info;
    this.onLog = onLog;
    worker.on('message', (message: FromThread) => this.onMessage(message));
    worker.on('error', (error) => this.failAll(new CuratorError('inference_failed', `Inference thread ${name} crashed: ${error.message}`, { retryable: true, cause: error })));
    worker.on('exit', (code) => {
      this.exited = true;
      this.failAll(new CuratorError('inference_failed', `Inference thread ${name} exited (code ${code})`, { retryable: true }));
    });
  }

  /** Starts the thread and resolves once the engine has loaded its models. */
  static async start(options: ModelThreadOptions): Promise<ModelThread> {
    const moduleUrl = options.module instanceof URL ? options.module.href : options.module;
    const init: ThreadInit = { module: moduleUrl, options: options.options };
    const worker = new Worker(new URL('./thread-host.ts', import.meta.url), {
      workerData: init,
      name: options.name,
      resourceLimits: options.resourceLimits,
    });
    const info = await new Promise<unknown>((resolve, reject) => {
      const onMessage = (message: FromThread) => {
        if (message.kind === 'ready') {
          cleanup();
          resolve(message.info);
        } else if (message.kind === 'init-failed') {
          cleanup();
          void worker.terminate();
          reject(deserializeError(message.error));
        } else if (message.kind === 'log') {
          options.onLog?.(message.level, message.message, message.fields);
        }
      };
      const onError = (error: Error) => {
        cleanup();
        reject(new CuratorError('model_load_failed', `Inference thread ${options.name} failed to start: ${error.message}`, { cause: error }));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new CuratorError('model_load_failed', `Inference thread ${options.name} exited during start (code ${code})`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    return new ModelThread(options.name, worker, info, options.onLog);
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Calls waiting or running in the thread. */
  get inFlight(): number {
    return this.pending.size;
  }

  stats(): { calls: number; busyMs: number; inFlight: number } {
    return { calls: this.calls, busyMs: this.busyMs, inFlight: this.pending.size };
  }

  call<R = unknown, P = unknown>(method: string, args: unknown, options: CallOptions<P> = {}): Promise<R> {
    const held = gate;
    if (held) {
      held.waiting++;
      for (const notify of held.onWait.splice(0)) notify();
      // A call canceled while held goes on at once, to fail as canceled calls do.
      const canceled = new Promise<void>((resolve) => (options.signal?.aborted ? resolve() : options.signal?.addEventListener('abort', () => resolve(), { once: true })));
      return Promise.race([held.opened, canceled]).then(() => this.dispatch<R, P>(method, args, options));
    }
    return this.dispatch<R, P>(method, args, options);
  }

  private dispatch<R, P>(method: string, args: unknown, options: CallOptions<P>): Promise<R> {
    if (this.exited) return Promise.reject(new CuratorError('inference_failed', `Inference thread ${this.name} is not running`, { retryable: true }));
    const id = this.nextId++;
    const cancelBuffer = new SharedArrayBuffer(4);
    const cancelFlag = new Int32Array(cancelBuffer);
    return new Promise<R>((resolve, reject) => {
      const onAbort = () => {
        Atomics.store(cancelFlag, 0, 1);
        if (!this.exited) this.worker.postMessage({ kind: 'cancel', id } satisfies ToThread);
      };
      if (options.signal?.aborted) Atomics.store(cancelFlag, 0, 1);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        resolve: resolve as (value: unknown) => void,
        reject,
        onProgress: options.onProgress,
        cancelFlag,
        startedAt: performance.now(),
        detach: () => options.signal?.removeEventListener('abort', onAbort),
      });
      const message: ToThread = { kind: 'call', id, method, args, cancelFlag: cancelBuffer };
      this.worker.postMessage(message, options.transfer as never);
    });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ kind: 'close' } satisfies ToThread);
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }

  private onMessage(message: FromThread): void {
    if (message.kind === 'log') {
      this.onLog?.(message.level, message.message, message.fields);
      return;
    }
    if (message.kind !== 'progress' && message.kind !== 'result' && message.kind !== 'error') return;
    const call = this.pending.get(message.id);
    if (!call) return;
    if (message.kind === 'progress') {
      try {
        call.onProgress?.(message.progress);
      } catch {
        // A failing progress listener must not fail the inference.
      }
      return;
    }
    this.pending.delete(message.id);
    call.detach();
    this.calls++;
    this.busyMs += performance.now() - call.startedAt;
    if (message.kind === 'result') call.resolve(message.value);
    else call.reject(deserializeError(message.error));
  }

  private failAll(error: CuratorError): void {
    for (const [id, call] of this.pending) {
      this.pending.delete(id);
      call.detach();
      call.reject(error);
    }
  }
}
