import type { z } from 'zod';
import {
  batchAcceptedSchema,
  feedbackSchema,
  jobAcceptedSchema,
  jobEventNames,
  jobEventSchema,
  jobLookupSchema,
  jobPageSchema,
  jobViewSchema,
  maxJobsPerBatch,
  rerunAcceptedSchema,
  terminalStatuses,
  type Feedback,
  type feedbackRequestSchema,
  type JobAccepted,
  type JobEvent,
  type JobListQuery,
  type JobPage,
  type JobRequestInput,
  type JobView,
  type RerunAccepted,
  type rerunRequestSchema,
  type jobNotFoundSchema,
} from '@curator/contracts';
import { CuratorApiError, errorFromResponse, invalidResponse } from './errors.ts';
import { readServerSentEvents } from './events.ts';
import { newIdempotencyKey } from './ids.ts';
import { retryDelayMs, type RetryPolicy } from './retry.ts';

export type JobNotFound = z.infer<typeof jobNotFoundSchema>;
/** A feedback as callers write it (`field` defaults to `overall`). */
export type FeedbackInput = z.input<typeof feedbackRequestSchema>;
/** Rerun overrides as callers write them. */
export type RerunInput = z.input<typeof rerunRequestSchema>;

export interface CuratorClientOptions {
  /**
   * Where the API is, e.g. `http://localhost:8080`. In a browser page served by the gateway it may be
   * left out (same origin); elsewhere it is required.
   */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <key>`; a function is asked on every request (a key the user may change). */
  apiKey?: string | (() => string | null | undefined);
  /** Another fetch implementation (for example one that goes through a proxy). */
  fetch?: typeof fetch;
  /**
   * Automatic retries of requests that are safe to repeat (reads, submits carrying an
   * Idempotency-Key) when the server cannot be reached or answers 503 or 429 `rate_limited`;
   * `false` turns them off. Default: 3 retries, backoff from 500 ms, `Retry-After` honoured up to 30 s.
   */
  retry?: RetryPolicy | false;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface SubmitOptions extends RequestOptions {
  /**
   * Sent as `Idempotency-Key`: the same key and body give back the same job (the same key with
   * another body is a 409 `idempotency_conflict`). Default: a new random key per call, reused by
   * the automatic retries of that call, so a retry after a lost answer cannot make a second job.
   */
  idempotencyKey?: string;
  /**
   * `Prefer: wait=<seconds>`: the server holds the answer until the job ends (answering 200 with
   * the finished job) or the wait runs out (the usual 202). `true` leaves the length to the server
   * (60 s by default, and it bounds any value).
   */
  wait?: number | true;
  /** `Cancel-After`: a job not started within this many seconds ends `expired` (the body's `deadline` is the same as a date). */
  cancelAfterSeconds?: number;
}

/** `GET /jobs` filters; dates may be given as `Date`s. */
export type ListQuery = Omit<Partial<JobListQuery>, 'createdAfter' | 'createdBefore'> & { createdAfter?: string | Date; createdBefore?: string | Date };

export interface EventsOptions extends RequestOptions {
  /** Resume after this event: the server sends the job again only if it changed since. */
  lastEventId?: string;
  /** Reconnect (with Last-Event-ID) when the connection drops before the job ends. Default true. */
  reconnect?: boolean;
  /** Consecutive failed reconnects before giving up. Default 5. */
  maxReconnects?: number;
}

export interface WaitOptions extends RequestOptions {
  /** `events` (default) follows the event stream; `poll` reads the job with growing pauses. */
  via?: 'events' | 'poll';
  /** Called with every state of the job seen on the way. */
  onUpdate?: (job: JobView) => void;
  /** First and longest pause between polls (ms). Default 250 and 5000. */
  pollIntervalMs?: { first?: number; max?: number };
}

/** One event of a job's stream: the whole job as it now is, and the event id to resume after. */
export interface JobStreamEvent {
  id: string | null;
  event: JobEvent['event'];
  job: JobView;
}

/** What EventSource waits before reconnecting when the server does not say (the HTML spec leaves it to the agent). */
const defaultRetryMs = 2000;
const knownEvents: ReadonlySet<string> = new Set(jobEventNames);

export const isFinished = (job: Pick<JobView, 'status'>): boolean => terminalStatuses.includes(job.status);

/** What a submit with `wait` answered: the finished job (200), or the job still queued or running (202). */
export const isJobView = (value: JobAccepted | JobView): value is JobView => 'stages' in value;

type Method = 'GET' | 'POST';
interface SendOptions extends RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Repeat on no answer and on 503 too, not only on 429 `rate_limited` (reads, and writes with an Idempotency-Key). */
  repeatable?: boolean;
}

/**
 * Curator's job API, typed by the contracts and checked against them: every response is parsed with
 * its zod schema from `@curator/contracts`, every error is a `CuratorApiError`. Uses only `fetch` and
 * web streams, so the same code runs in browsers and in Node.
 */
export class CuratorClient {
  readonly baseUrl: string;
  readonly #apiKey: CuratorClientOptions['apiKey'];
  readonly #fetch: typeof fetch;
  readonly #retry: RetryPolicy | false;

  constructor(options: CuratorClientOptions = {}) {
    const base = options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin;
    if (base === undefined) throw new TypeError('CuratorClient needs a baseUrl outside a browser page (for example http://localhost:8080)');
    this.baseUrl = new URL(base).href.replace(/\/$/, '');
    this.#apiKey = options.apiKey;
    // Called through a closure: browsers refuse a fetch that lost its `this` ("Illegal invocation").
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#retry = options.retry ?? {};
  }

  /**
   * `POST /jobs` with one job: the accepted job; with `wait`, the finished job when it ended within
   * the wait (tell them apart with `isJobView`).
   */
  submit(request: JobRequestInput, options?: SubmitOptions & { wait?: undefined }): Promise<JobAccepted>;
  submit(request: JobRequestInput, options: SubmitOptions): Promise<JobAccepted | JobView>;
  async submit(request: JobRequestInput, options: SubmitOptions = {}): Promise<JobAccepted | JobView> {
    const response = await this.#send('POST', '/jobs', { ...options, body: request, headers: submitHeaders(options), repeatable: true });
    if (response.status === 200) return this.#parse(response, jobViewSchema, 'The finished job');
    return this.#parse(response, jobAcceptedSchema, 'The accepted job');
  }

  /** `POST /jobs` with `{ jobs }` (up to 100): all are accepted, or none (the error names the wrong one as `jobs.<i>.…`). */
  async submitBatch(requests: readonly JobRequestInput[], options: Omit<SubmitOptions, 'wait'> = {}): Promise<JobAccepted[]> {
    const response = await this.#send('POST', '/jobs', { ...options, body: { jobs: requests }, headers: submitHeaders(options), repeatable: true });
    return (await this.#parse(response, batchAcceptedSchema, 'The accepted batch')).jobs;
  }

  /**
   * Submits and resolves with the finished job (succeeded, failed, canceled or expired: it does not
   * throw for a failed job). Without `onUpdate` the server is asked to hold its answer until the job
   * ends (`Prefer: wait`, `wait` seconds or the server's default); a job still running then, or any
   * job when `onUpdate` wants every state on the way, is followed with `wait()`.
   */
  async run(request: JobRequestInput, options: SubmitOptions & Pick<WaitOptions, 'onUpdate' | 'via'> = {}): Promise<JobView> {
    const { onUpdate, via, ...submitOptions } = options;
    const wait = submitOptions.wait ?? (onUpdate ? undefined : true);
    const answer = await this.submit(request, { ...submitOptions, ...(wait === undefined ? {} : { wait }) });
    if (isJobView(answer) && isFinished(answer)) {
      onUpdate?.(answer);
      return answer;
    }
    return this.wait(answer.id, { ...(options.signal ? { signal: options.signal } : {}), ...(onUpdate ? { onUpdate } : {}), ...(via ? { via } : {}) });
  }

  /** `GET /jobs/:id`. */
  async get(id: string, options: RequestOptions = {}): Promise<JobView> {
    const response = await this.#send('GET', `/jobs/${encodeURIComponent(id)}`, { ...options, repeatable: true });
    return this.#parse(response, jobViewSchema, `Job ${id}`);
  }

  /** `GET /jobs`: one page of the caller's jobs, newest first; pass `nextCursor` as `cursor` for the next. */
  async list(query: ListQuery = {}, options: RequestOptions = {}): Promise<JobPage> {
    const response = await this.#send('GET', `/jobs?${listSearch(query)}`, { ...options, repeatable: true });
    return this.#parse(response, jobPageSchema, 'The job list');
  }

  /** Every page of `GET /jobs` from `query.cursor` (or the newest) on, fetched as the loop asks for them. */
  async *listPages(query: ListQuery = {}, options: RequestOptions = {}): AsyncGenerator<JobPage, void, undefined> {
    let cursor = query.cursor;
    do {
      const page = await this.list(cursor === undefined ? query : { ...query, cursor }, options);
      yield page;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Each of the caller's jobs matching `query`, newest first, across pages. */
  async *listAll(query: ListQuery = {}, options: RequestOptions = {}): AsyncGenerator<JobView, void, undefined> {
    for await (const page of this.listPages(query, options)) yield* page.jobs;
  }

  /**
   * `GET /jobs?ids=` for any number of ids (asked 100 at a time), in the order given; an unknown or
   * expired id comes back as `{ id, error }` instead of a job.
   */
  async getMany(ids: readonly string[], options: RequestOptions = {}): Promise<Array<JobView | JobNotFound>> {
    const found: Array<JobView | JobNotFound> = [];
    for (let start = 0; start < ids.length; start += maxJobsPerBatch) {
      const query = new URLSearchParams({ ids: ids.slice(start, start + maxJobsPerBatch).join(',') });
      const response = await this.#send('GET', `/jobs?${query}`, { ...options, repeatable: true });
      found.push(...(await this.#parse(response, jobLookupSchema, 'The job lookup')).jobs);
    }
    return found;
  }

  /** `POST /jobs/:id/cancel`: the job as it is after the cancel (409 `job_not_cancelable` once it has ended). */
  async cancel(id: string, options: RequestOptions = {}): Promise<JobView> {
    const response = await this.#send('POST', `/jobs/${encodeURIComponent(id)}/cancel`, options);
    return this.#parse(response, jobViewSchema, `Job ${id}`);
  }

  /**
   * `POST /jobs/:id/rerun`: a new job with the original's input and its params with `overrides`
   * merged over them; stages whose inputs did not change are reused (`reusedStages`). Carries an
   * Idempotency-Key like `submit`, so its automatic retries cannot make a second rerun.
   */
  async rerun(id: string, overrides: RerunInput = {}, options: Omit<SubmitOptions, 'wait'> = {}): Promise<RerunAccepted> {
    const response = await this.#send('POST', `/jobs/${encodeURIComponent(id)}/rerun`, { ...options, body: overrides, headers: submitHeaders(options), repeatable: true });
    return this.#parse(response, rerunAcceptedSchema, `The rerun of job ${id}`);
  }

  /** `POST /jobs/:id/retry`: a failed or expired job runs again under the same id (409 `job_not_retryable` otherwise); the job as it is then. */
  async retry(id: string, options: RequestOptions = {}): Promise<JobView> {
    const response = await this.#send('POST', `/jobs/${encodeURIComponent(id)}/retry`, options);
    return this.#parse(response, jobViewSchema, `The retry of job ${id}`);
  }

  /** `POST /jobs/:id/feedback`: a 1-5 rating of the job (or of one of its fields), with an optional comment. */
  async feedback(id: string, feedback: FeedbackInput, options: RequestOptions = {}): Promise<Feedback> {
    const response = await this.#send('POST', `/jobs/${encodeURIComponent(id)}/feedback`, { ...options, body: feedback });
    return this.#parse(response, feedbackSchema, `The feedback on job ${id}`);
  }

  /**
   * `GET /jobs/:id/events` as an async iterator of the job's states, ending after the final one.
   * Read with fetch rather than EventSource, so it can send the API key; a dropped connection is
   * resumed with `Last-Event-ID` (the server then sends the job only if it changed meanwhile, so
   * resuming after the final event yields nothing). Leaving the loop early closes the stream.
   */
  async *events(id: string, options: EventsOptions = {}): AsyncGenerator<JobStreamEvent, void, undefined> {
    const { signal, reconnect = true, maxReconnects = 5 } = options;
    let lastEventId = options.lastEventId;
    let retryMs = defaultRetryMs;
    let failures = 0;
    for (;;) {
      let lost: unknown;
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) };
        // Not retried here: this loop reconnects on its own, with Last-Event-ID.
        const response = await this.#send('GET', `/jobs/${encodeURIComponent(id)}/events`, { headers, ...(signal ? { signal } : {}), repeatable: false, noRetry: true });
        if (!response.body) throw new CuratorApiError({ status: response.status, code: 'unexpected_response', message: 'The event stream came without a body' });
        const stream = readServerSentEvents(response.body);
        let received = 0;
        try {
          for await (const message of stream.messages) {
            if (message.event === undefined || !knownEvents.has(message.event)) continue;
            const event = parseEvent(message.data, response.status);
            failures = 0;
            received++;
            if (message.id !== undefined) lastEventId = message.id;
            yield { id: message.id ?? null, event: event.event, job: event.job };
            if (isFinished(event.job)) return;
          }
        } finally {
          retryMs = stream.retryMs() ?? retryMs;
        }
        // The server ended the stream early. With nothing sent, a finished job means the server had
        // nothing newer than Last-Event-ID: its final state was seen before (resumed after the end).
        if (received === 0 && isFinished(await this.get(id, signal ? { signal } : {}))) return;
        lost = new CuratorApiError({ status: 0, code: 'unreachable', message: `The event stream of job ${id} ended before the job did` });
      } catch (error) {
        if (signal?.aborted || !isTransient(error)) throw error;
        lost = error;
      }
      if (!reconnect || ++failures > maxReconnects) throw lost;
      await sleep(retryMs * failures, signal);
    }
  }

  /** Resolves with the job once it has ended (succeeded, failed or canceled): it does not throw for a failed job. */
  async wait(id: string, options: WaitOptions = {}): Promise<JobView> {
    const { signal, onUpdate } = options;
    if ((options.via ?? 'events') === 'events') {
      let last: JobView | null = null;
      for await (const { job } of this.events(id, signal ? { signal } : {})) {
        onUpdate?.(job);
        last = job;
      }
      if (last && isFinished(last)) return last;
    }
    let pause = options.pollIntervalMs?.first ?? 250;
    const maxPause = options.pollIntervalMs?.max ?? 5000;
    for (;;) {
      const job = await this.get(id, signal ? { signal } : {});
      onUpdate?.(job);
      if (isFinished(job)) return job;
      await sleep(pause, signal);
      pause = Math.min(maxPause, Math.round(pause * 1.5));
    }
  }

  /**
   * One API call, repeated (with the same headers, so the same Idempotency-Key) while the answer
   * says that trying again later may work and the retry policy allows another try.
   */
  async #send(method: Method, path: string, options: SendOptions & { noRetry?: boolean }): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#request(method, path, options);
      } catch (error) {
        if (options.signal?.aborted || options.noRetry || this.#retry === false || !(error instanceof CuratorApiError)) throw error;
        const delay = retryDelayMs(error, attempt, { ...this.#retry, repeatable: options.repeatable === true });
        if (delay === null) throw error;
        await sleep(delay, options.signal);
      }
    }
  }

  async #request(method: Method, path: string, options: SendOptions): Promise<Response> {
    const key = typeof this.#apiKey === 'function' ? this.#apiKey() : this.#apiKey;
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...options.headers,
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      // Only with a body: Fastify refuses an empty body that claims to be JSON.
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new CuratorApiError({ status: 0, code: 'unreachable', message: `Could not reach Curator at ${this.baseUrl}: ${(error as Error).message}`, cause: error });
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  async #parse<S extends z.ZodType>(response: Response, schema: S, what: string): Promise<z.output<S>> {
    let body: unknown;
    try {
      body = await response.json();
    } catch (error) {
      throw new CuratorApiError({ status: response.status, code: 'unexpected_response', message: `${what} was not JSON`, cause: error });
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw invalidResponse(response.status, what, parsed.error);
    return parsed.data;
  }
}

/** Idempotency-Key (one per call unless given), Prefer and Cancel-After. */
function submitHeaders(options: SubmitOptions): Record<string, string> {
  return {
    'idempotency-key': options.idempotencyKey ?? newIdempotencyKey(),
    ...(options.wait === undefined ? {} : { prefer: options.wait === true ? 'wait' : `wait=${Math.max(0, Math.floor(options.wait))}` }),
    ...(options.cancelAfterSeconds === undefined ? {} : { 'cancel-after': String(Math.max(0, Math.floor(options.cancelAfterSeconds))) }),
  };
}

function listSearch(query: ListQuery): URLSearchParams {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    search.set(name, value instanceof Date ? value.toISOString() : String(value));
  }
  return search;
}

function parseEvent(data: string, status: number): JobEvent {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (error) {
    throw new CuratorApiError({ status, code: 'unexpected_response', message: 'An event of the stream was not JSON', cause: error });
  }
  const parsed = jobEventSchema.safeParse(json);
  if (!parsed.success) throw invalidResponse(status, 'An event of the stream', parsed.error);
  return parsed.data;
}

/** Worth reconnecting for: no answer, a dropped stream, or the server busy (5xx); not a 4xx or a broken contract. */
function isTransient(error: unknown): boolean {
  if (error instanceof CuratorApiError) return error.code === 'unreachable' || (error.status >= 500 && error.code !== 'invalid_response');
  // A stream cut mid-body surfaces as the reader's TypeError (undici: "terminated").
  return error instanceof TypeError;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
