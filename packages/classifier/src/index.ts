import { ModelThread } from '@curator/inference';
import type { ClassificationResult, ClassifierEngineOptions, ClassifierInfo } from './engine.ts';

export type { ClassificationResult, ClassifierEngineOptions, ClassifierInfo, ClassifierPrecision } from './engine.ts';
export { curatorLabel, labelsFromConfig, softmax, taskLabels } from './labels.ts';

export interface ClassifierLoadOptions extends ClassifierEngineOptions {
  onLog?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

const engineModule = new URL('./engine.ts', import.meta.url);

/** A sentiment or genre classifier running in a thread of its own. */
export class Classifier {
  readonly info: ClassifierInfo;
  private readonly thread: ModelThread;

  private constructor(thread: ModelThread) {
    this.thread = thread;
    this.info = thread.info as ClassifierInfo;
  }

  /** Loads the model; fails with `model_missing` (naming the file) or `model_load_failed`. */
  static async load(options: ClassifierLoadOptions): Promise<Classifier> {
    const { onLog, ...engineOptions } = options;
    const thread = await ModelThread.start({
      module: engineModule,
      options: engineOptions,
      name: `classifier:${options.task}`,
      ...(onLog ? { onLog } : {}),
    });
    return new Classifier(thread);
  }

  /** One result per text, in order. Texts longer than `info.limit` tokens are truncated and say so. */
  classify(texts: string[], options: { signal?: AbortSignal } = {}): Promise<ClassificationResult[]> {
    return this.thread.call<ClassificationResult[]>('classify', { texts }, options.signal ? { signal: options.signal } : {});
  }

  /** Runs one tiny input so the first real request does not pay for lazy initialisation; returns its ms. */
  warmup(): Promise<number> {
    return this.thread.call<number>('warmup', {});
  }

  get alive(): boolean {
    return this.thread.alive;
  }

  stats(): { calls: number; busyMs: number; inFlight: number } {
    return this.thread.stats();
  }

  close(): Promise<void> {
    return this.thread.close();
  }
}
