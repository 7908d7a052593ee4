import { curatorVersion, isCuratorError } from '@curator/contracts';
import { safeFetch, type NetworkPolicy } from '@curator/safe-fetch';
import { signWebhook } from './signature.ts';
import { parseRetryAfter } from './retry.ts';

export const webhookUserAgent = `Curator-Webhooks/${curatorVersion}`;

export interface WebhookAttempt {
  url: string;
  /** The message's id (`webhook-id`): the same on every attempt of one message. */
  id: string;
  /** The JSON body, signed and sent as is. */
  body: string;
  /** The signing secret (or the current and the old one while rotating). */
  secrets: string | readonly string[];
  /**
   * Where and how long: the article fetch rules (address policy checked at connect time, allowed
   * ports), and the delivery timeout. Redirects are never followed, whatever `maxRedirects` says.
   */
  network: Omit<NetworkPolicy, 'maxRedirects'>;
  /** The signing clock (unix seconds go in `webhook-timestamp`). */
  now?: () => Date;
  signal?: AbortSignal;
}

/**
 * How one attempt went. `retry`: worth another attempt later (no answer, a timeout, a redirect, 429,
 * 5xx); `give-up`: another attempt would fare the same (a 4xx other than 429, a blocked address).
 * `error` never names an address the URL's host resolved to.
 */
export type AttemptResult =
  | { outcome: 'delivered'; responseStatus: number }
  | { outcome: 'retry'; responseStatus: number | null; error: string; retryAfterMs: number | null }
  | { outcome: 'give-up'; responseStatus: number | null; error: string; gone: boolean };

function judgeStatus(status: number, headers: Record<string, string | string[] | undefined>): AttemptResult {
  if (status >= 200 && status < 300) return { outcome: 'delivered', responseStatus: status };
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  if (status === 429 || status >= 500) return { outcome: 'retry', responseStatus: status, error: `The receiver answered ${status}`, retryAfterMs };
  if (status >= 300 && status < 400) {
    // Standard Webhooks: a redirect is a failure (following it doubles the load); the URL should be updated.
    return { outcome: 'retry', responseStatus: status, error: `The receiver answered ${status}: redirects are not followed, point the webhook at the final URL`, retryAfterMs };
  }
  if (status === 410) return { outcome: 'give-up', responseStatus: status, error: 'The receiver answered 410 Gone: no more messages of this job are sent to it', gone: true };
  return { outcome: 'give-up', responseStatus: status, error: `The receiver answered ${status}; not retried (only 429 and 5xx are)`, gone: false };
}

function judgeFailure(error: unknown): AttemptResult {
  if (isCuratorError(error) && (error.code === 'fetch_blocked' || error.code === 'bad_input')) {
    return { outcome: 'give-up', responseStatus: null, error: error.message, gone: false };
  }
  // Timeouts, refused or reset connections, names that do not resolve now, TLS trouble, redirects:
  // the receiver may be back (or fixed) later. safeFetch's messages name no resolved address.
  const message = isCuratorError(error) ? error.message : 'The request failed (network error)';
  return { outcome: 'retry', responseStatus: null, error: message, retryAfterMs: null };
}

/**
 * One signed POST of a message: Standard Webhooks headers, sent with safeFetch (the address of every
 * connection judged when it is made), no redirects followed, the answer's body never read.
 */
export async function attemptWebhook(attempt: WebhookAttempt): Promise<AttemptResult> {
  const timestamp = Math.floor((attempt.now?.() ?? new Date()).getTime() / 1000);
  const signed = signWebhook({ id: attempt.id, timestamp, body: attempt.body }, attempt.secrets);
  try {
    const response = await safeFetch(
      attempt.url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': webhookUserAgent, ...signed },
        body: attempt.body,
        ...(attempt.signal ? { signal: attempt.signal } : {}),
      },
      { ...attempt.network, maxRedirects: 0 },
    );
    response.discard();
    return judgeStatus(response.status, response.headers);
  } catch (error) {
    return judgeFailure(error);
  }
}
