// An HTTP client of the gateway for system tests: every request has a client timeout (a request that
// gets no answer in time is recorded as unanswered, never awaited forever), and every answer is
// recorded with its route and time so a test can print the gateway's latency while a fault lasts.
import { randomUUID } from 'node:crypto';

export interface Answer {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null when the body is not JSON. */
  body: any;
  text: string;
  ms: number;
}

export interface Observation {
  route: string;
  /** 0: no answer within the client timeout, or the connection failed. */
  status: number;
  ms: number;
  /** When the request was sent (ISO 8601). */
  at: string;
  code?: string;
  problem?: string;
}

const terminal = new Set(['succeeded', 'failed', 'canceled']);

export function isFinal(view: { status?: string } | undefined | null): boolean {
  return !!view && terminal.has(String(view.status));
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export class NoAnswerError extends Error {}

export class GatewayClient {
  readonly url: string;
  readonly timeoutMs: number;
  readonly observations: Observation[] = [];

  constructor(url: string, options: { timeoutMs?: number } = {}) {
    this.url = url.replace(/\/$/, '');
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** One request; `route` names it in the record (`GET /jobs/:id`). Throws NoAnswerError when none came in time. */
  async request(method: string, path: string, options: { route?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
    const route = options.route ?? `${method} ${path.split('?')[0]}`;
    const started = performance.now();
    const at = new Date().toISOString();
    try {
      const res = await fetch(`${this.url}${path}`, {
        method,
        headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      const ms = performance.now() - started;
      let body: any = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      this.observations.push({ route, status: res.status, ms, at, ...(body?.error?.code ? { code: String(body.error.code) } : {}) });
      return { status: res.status, headers: res.headers, body, text, ms };
    } catch (error) {
      const ms = performance.now() - started;
      const problem = (error as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : `connection failed: ${(error as Error).message}`;
      this.observations.push({ route, status: 0, ms, at, problem });
      throw new NoAnswerError(`${method} ${path}: ${problem}`, { cause: error });
    }
  }

  /**
   * Submits one job as a careful client does: with an Idempotency-Key, and on 503 (or no answer)
   * again with the same key after Retry-After (capped at `maxRetryWaitMs`, so an outage is probed
   * densely) until accepted or `giveUpMs` passed. Returns the job id, or null when never accepted.
   */
  async submit(request: unknown, options: { giveUpMs?: number; maxRetryWaitMs?: number } = {}): Promise<{ id: string | null; tries: number; refused: number; replayed: boolean }> {
    const key = randomUUID();
    const deadline = Date.now() + (options.giveUpMs ?? 120_000);
    let tries = 0;
    let refused = 0;
    while (Date.now() < deadline) {
      tries++;
      let answer: Answer;
      try {
        answer = await this.request('POST', '/jobs', { body: request, headers: { 'idempotency-key': key } });
      } catch (error) {
        if (!(error instanceof NoAnswerError)) throw error;
        await sleep(500);
        continue;
      }
      // `Idempotent-Replayed`: an earlier attempt with this key (one answered 503, or not at all) reached Redis after all.
      if (answer.status === 202) return { id: String(answer.body.id), tries, refused, replayed: answer.headers.get('idempotent-replayed') === 'true' };
      if (answer.status !== 503) throw new Error(`POST /jobs answered ${answer.status}: ${answer.text}`);
      refused++;
      const retryAfterMs = Number(answer.headers.get('retry-after') ?? '1') * 1000;
      await sleep(Math.min(Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? retryAfterMs : 1000, options.maxRetryWaitMs ?? 2000));
    }
    return { id: null, tries, refused, replayed: false };
  }

  /** Views of these jobs (GET /jobs?ids=..., 100 at a time); null for an id the gateway does not know. */
  async views(ids: readonly string[]): Promise<Map<string, any>> {
    const out = new Map<string, any>();
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      const answer = await this.request('GET', `/jobs?ids=${chunk.join(',')}`, { route: 'GET /jobs?ids' });
      if (answer.status !== 200) throw new Error(`GET /jobs?ids answered ${answer.status}: ${answer.text}`);
      for (const [k, view] of (answer.body.jobs as any[]).entries()) out.set(chunk[k]!, view?.status ? view : null);
    }
    return out;
  }

  /**
   * Polls until every job is final or `limitMs` passed; returns the last views and the ids that never
   * became final (lost). Reads that fail (an outage) are retried until the limit.
   */
  async settle(ids: readonly string[], limitMs = 180_000): Promise<{ views: Map<string, any>; lost: string[] }> {
    const deadline = Date.now() + limitMs;
    let views = new Map<string, any>();
    while (true) {
      try {
        views = await this.views(ids);
      } catch {
        // An outage in progress: read again.
      }
      const open = ids.filter((id) => !isFinal(views.get(id)));
      if (open.length === 0 || Date.now() > deadline) return { views, lost: open };
      await sleep(250);
    }
  }

  /** Latency of the answered requests in the record since `from` (an index into observations). */
  latency(from = 0): { count: number; unanswered: number; p50: number; p99: number; max: number } {
    const slice = this.observations.slice(from);
    const answered = slice.filter((o) => o.status !== 0).map((o) => o.ms);
    return { count: slice.length, unanswered: slice.length - answered.length, p50: percentile(answered, 50), p99: percentile(answered, 99), max: answered.length ? Math.max(...answered) : 0 };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
