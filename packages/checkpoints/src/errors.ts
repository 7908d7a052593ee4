import { CuratorError } from '@curator/contracts';

/** The one refusal of this package: the file is not a checkpoint we can read safely. */
export function invalid(path: string, problem: string, cause?: unknown): CuratorError {
  return new CuratorError('checkpoint_invalid', `${path}: ${problem}`, cause === undefined ? {} : { cause });
}
