import type { ErrorCode, ErrorDetail } from '@curator/contracts';

/** Messages between a ModelThread (main side) and its worker thread. */
export type ToThread =
  | { kind: 'call'; id: number; method: string; args: unknown; cancelFlag: SharedArrayBuffer }
  /** Sent with the flag, so a call that waits (not computes) in the thread learns of it at once. */
  | { kind: 'cancel'; id: number }
  | { kind: 'close' };

export type FromThread =
  | { kind: 'ready'; info: unknown }
  | { kind: 'init-failed'; error: SerializedError }
  | { kind: 'progress'; id: number; progress: unknown }
  | { kind: 'result'; id: number; value: unknown }
  | { kind: 'error'; id: number; error: SerializedError }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; message: string; fields?: Record<string, unknown> };

export interface SerializedError {
  name: string;
  message: string;
  code?: ErrorCode;
  details?: ErrorDetail[];
  retryable?: boolean;
  stack?: string;
}

export interface ThreadInit {
  module: string;
  options: unknown;
}
