import { isCuratorApiError } from '@curator/client';
import { describeProblem, type Problem } from './messages.ts';

/** Any failure of a call to the API, as a problem a person can read. */
export function problemFrom(error: unknown): Problem {
  if (isCuratorApiError(error)) return describeProblem(error.code, error.message, error.retryAfterSeconds);
  return describeProblem('unreachable', error instanceof Error ? error.message : String(error));
}

/** A problem shown where it happened; `alert` announces it at once (for failures the person just caused). */
export function ProblemBox({ problem, alert = false }: { problem: Problem; alert?: boolean }) {
  return (
    <div class="problem" role={alert ? 'alert' : undefined}>
      <p class="problem-title">{problem.title}</p>
      <p>{problem.advice}</p>
      <p class="problem-code">
        Code: <code>{problem.code}</code>
      </p>
    </div>
  );
}
