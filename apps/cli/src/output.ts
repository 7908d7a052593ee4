// How the job commands talk to people and scripts: readable text on a terminal, one JSON document
// with --json, errors as `<code>: <message>` on stderr, and exit codes a script can branch on.
import { isCuratorError } from '@curator/contracts';
import { CuratorConfigError } from '@curator/config';
import { isCuratorApiError, isFinished, type JobView } from '@curator/client';

/** Where a command reads and writes; tests run the real process, so this is the process's own. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Variables to parse instead of the process environment. */
  env?: Record<string, string | undefined>;
  setExitCode(code: number): void;
}

export const processIo: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  // exitCode rather than exit(): lets pending output drain before the process ends.
  setExitCode: (code) => void (process.exitCode = code),
};

/**
 * 0: done. 1: the command failed (the API refused it, could not be reached, a wrong option). 2: the
 * job it showed ended without a result (failed, canceled or expired).
 */
export const exitCodes = { ok: 0, failed: 1, jobUnsuccessful: 2 } as const;

export const writeLine = (stream: NodeJS.WritableStream, text = ''): void => void stream.write(`${text}\n`);

/** The one JSON document a command prints with --json. */
export function printJson(io: CliIo, value: unknown): void {
  writeLine(io.stdout, JSON.stringify(value, null, 2));
}

/** A mistake in how the command was called (reported like an API refusal, before anything is sent). */
export class UsageError extends Error {
  readonly code = 'bad_usage';
}

export interface FailureInfo {
  code: string;
  message: string;
  details?: ReadonlyArray<{ path: string; message: string }>;
}

/** Any failure as `{ code, message, details? }`: the API's own code where it gave one. */
export function failureInfo(error: unknown): FailureInfo {
  if (isCuratorApiError(error)) return { code: error.code, message: error.message, ...(error.details.length > 0 ? { details: error.details } : {}) };
  if (isCuratorError(error)) return { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
  if (error instanceof CuratorConfigError) return { code: 'invalid_config', message: error.message };
  if (error instanceof UsageError) return { code: error.code, message: error.message };
  return { code: 'internal_error', message: error instanceof Error ? error.message : String(error) };
}

/**
 * Reports a failed command: `<code>: <message>` (and each detail) on stderr; with --json also
 * `{ "error": { code, message, details? } }` on stdout, the shape of the API's error bodies.
 */
export function reportFailure(io: CliIo, error: unknown, json: boolean): void {
  const info = failureInfo(error);
  writeLine(io.stderr, `${info.code}: ${info.message}`);
  for (const detail of info.details ?? []) writeLine(io.stderr, `  ${detail.path}: ${detail.message}`);
  if (isCuratorApiError(error) && error.retryAfterSeconds !== null) writeLine(io.stderr, `  (the server asks to retry after ${error.retryAfterSeconds} s)`);
  if (json) printJson(io, { error: info });
  io.setExitCode(exitCodes.failed);
}

/** A finished job that did not succeed makes the command fail with exit code 2 and the job's error code. */
export function settleExitCode(io: CliIo, job: Pick<JobView, 'status' | 'error' | 'id'>): void {
  if (!isFinished(job) || job.status === 'succeeded') return;
  const code = job.error?.code ?? job.status;
  writeLine(io.stderr, `${code}: job ${job.id} ${job.status}${job.error ? `: ${job.error.message}` : ''}`);
  io.setExitCode(exitCodes.jobUnsuccessful);
}
