// Errors in words a person understands. Keyed by the API's stable codes (and the client's own), so a
// message never depends on an English server message; codes this build does not know yet fall back
// to the server's message.
import type { ApiErrorCode } from '@curator/client';

export interface Problem {
  /** One sentence: what happened. */
  title: string;
  /** What the person can do about it. */
  advice: string;
  /** The code, shown small, for a bug report. */
  code: string;
}

const messages: Record<string, (message: string, retryAfter: number | null) => Omit<Problem, 'code'>> = {
  fetch_failed: (message) => ({ title: 'Curator could not fetch the article at that address.', advice: `The site did not answer as expected (${message}). Check the address, or paste the article's text instead.` }),
  fetch_blocked: () => ({
    title: 'That address is not allowed.',
    advice: 'Curator only fetches public web pages: addresses on this computer or a private network are refused. Paste the article text instead.',
  }),
  fetch_timeout: () => ({ title: 'The article took too long to download.', advice: 'Try again later, or paste the article text instead.' }),
  fetch_too_large: () => ({ title: 'That page is too large to read.', advice: 'Paste the article text instead.' }),
  unsupported_content: () => ({ title: 'That address is not an article Curator can read.', advice: 'Give the address of a web page (HTML), or paste the text.' }),
  extraction_failed: () => ({ title: 'Curator could not find an article on that page.', advice: 'Paste the article text instead.' }),
  extraction_budget_exceeded: () => ({ title: 'That page is too complex to read.', advice: 'Paste the article text instead.' }),
  text_too_long: (message) => ({ title: 'The article is too long.', advice: `${message}. Shorten it and try again.` }),
  content_policy: (message) => ({ title: 'This request was refused by the content policy.', advice: `${message}. Change the text or the image prompt prefix.` }),
  rate_limited: (_message, retryAfter) => ({
    title: 'Too many requests.',
    advice: retryAfter ? `Wait ${retryAfter} second${retryAfter === 1 ? '' : 's'} and try again.` : 'Wait a moment and try again.',
  }),
  quota_exceeded: () => ({ title: 'The daily job quota of this API key is used up.', advice: 'Try again tomorrow, or use another key.' }),
  unauthorized: () => ({ title: 'This Curator needs an API key, and it has none or not a valid one.', advice: 'Enter your key under "API key" at the top of the page; whoever runs Curator makes keys with `curator keys create`.' }),
  forbidden: () => ({ title: 'This API key may not do that.', advice: 'Its scopes do not cover it: use a key with the "submit" scope to make cards, "read" to see them.' }),
  idempotency_conflict: () => ({ title: 'This request was already sent once with other contents.', advice: 'Submit it again: the studio gives every new request its own key.' }),
  job_not_retryable: () => ({ title: 'Only a failed or expired job can be tried again.', advice: 'Rerun it with changes instead.' }),
  deadline_exceeded: () => ({ title: 'No worker started this job before its deadline.', advice: 'Try it again when Curator is less busy.' }),
  validation_failed: () => ({ title: 'Some fields need another value.', advice: 'See the messages next to the fields.' }),
  payload_too_large: () => ({ title: 'The request is too large.', advice: 'Shorten the article text.' }),
  job_not_found: () => ({ title: 'This job no longer exists.', advice: 'Jobs are kept for a limited time; run it again to get a new one.' }),
  job_not_cancelable: () => ({ title: 'The job has already ended.', advice: 'There is nothing left to cancel.' }),
  canceled: () => ({ title: 'The job was canceled.', advice: 'Run it again if you still want the card.' }),
  queue_unavailable: () => ({ title: 'Curator is busy or restarting.', advice: 'Try again in a few seconds.' }),
  storage_unavailable: () => ({ title: 'The picture store did not answer.', advice: 'Try again in a few seconds.' }),
  model_missing: () => ({ title: 'A model this job needs is not installed on the server.', advice: 'Ask whoever runs Curator to pull the models.' }),
  model_load_failed: () => ({ title: 'A model could not be loaded on the server.', advice: 'Ask whoever runs Curator to look at the worker logs.' }),
  worker_lost: () => ({ title: 'The worker running this job stopped.', advice: 'Run the job again.' }),
  worker_shutdown: () => ({ title: 'The worker was shut down while running this job.', advice: 'Run the job again.' }),
  not_implemented: () => ({ title: 'This server does not run that kind of job yet.', advice: 'Update Curator.' }),
  unreachable: () => ({ title: 'Curator could not be reached.', advice: 'Check your connection, or whether the server is running, and try again.' }),
  unexpected_response: () => ({ title: 'The server gave an answer the studio does not understand.', advice: 'Something between you and Curator (a proxy?) may be failing. Try again later.' }),
  invalid_response: () => ({ title: 'The server speaks another version of the API.', advice: 'Reload the page; if this stays, the studio and the server are of different versions.' }),
};

/** The problem an error code stands for, in plain words. */
export function describeProblem(code: ApiErrorCode, message: string, retryAfterSeconds: number | null = null): Problem {
  const known = messages[code];
  if (known) return { ...known(message.replace(/\.$/, ''), retryAfterSeconds), code };
  return { title: 'Something went wrong.', advice: message, code };
}
