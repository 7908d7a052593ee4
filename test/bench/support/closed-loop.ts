// A closed-loop client of the gateway: `concurrency` loops, each submitting a job, following it on its
// event stream (GET /jobs/:id/events) until it ends, and submitting the next: so `concurrency` jobs are
// in flight at any time, as many clients waiting for their results would keep them. Every job's record
// carries the gateway's own timestamps (created, first started, finished) and the client's.
import { isFinal } from '../../support/gateway-client.ts';

export interface JobRecord {
  id: string;
  type: string;
  status: string;
  errorCode: string | null;
  /** Client clock (ms since the epoch): POST sent, final event received. */
  submittedAt: number;
  doneAt: number;
  /** Gateway's view (ms since the epoch): enqueued, first taken by a worker, finished. */
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Events its stream carried (each one a read of the job by the gateway), reconnections included. */
  events: number;
}

export interface ClosedLoopOptions {
  gatewayUrl: string;
  concurrency: number;
  /** The n-th job to submit (n counts from 0 over every loop). */
  request(n: number): object;
  /** Loops stop submitting once this resolves; jobs in flight are followed to their end. */
  until: Promise<unknown>;
  onRecord?(record: JobRecord): void;
}

export interface ClosedLoopOutcome {
  records: JobRecord[];
  /** Submissions the gateway did not answer 202 (status or error text, counted). */
  refused: Map<string, number>;
  /** Accepted jobs whose stream failed before their end (the caller settles them another way). */
  unfollowed: Array<{ id: string; reason: string }>;
}

const terminalEvents = new Set(['completed', 'failed', 'canceled']);
const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);

/** Follows a job's event stream to its final state; `startedAt` is the first start the stream showed. */
async function follow(gatewayUrl: string, id: string): Promise<{ view: any; startedAt: string | null; events: number }> {
  let startedAt: string | null = null;
  let events = 0;
  for (;;) {
    const res = await fetch(`${gatewayUrl}/jobs/${id}/events`, { headers: { accept: 'text/event-stream' }, signal: AbortSignal.timeout(600_000) });
    if (res.status !== 200 || !res.body) throw new Error(`GET /jobs/:id/events answered ${res.status}: ${await res.text()}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (!data) continue; // a heartbeat comment
        const { event, job } = JSON.parse(data);
        events++;
        // BullMQ sets processedOn again when a job resumes after its child: keep the first start seen.
        startedAt ??= job.startedAt ?? null;
        if (terminalEvents.has(event)) {
          await reader.cancel();
          return { view: job, startedAt, events };
        }
      }
    }
    // The stream ended before the job did (the gateway lost Redis for a moment): look, then follow again.
    const view = await (await fetch(`${gatewayUrl}/jobs/${id}`, { signal: AbortSignal.timeout(60_000) })).json();
    if (isFinal(view)) return { view, startedAt: startedAt ?? view.startedAt, events };
  }
}

export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopOutcome> {
  let stopping = false;
  void options.until.then(() => (stopping = true));
  let next = 0;
  const records: JobRecord[] = [];
  const refused = new Map<string, number>();
  const unfollowed: ClosedLoopOutcome['unfollowed'] = [];

  const loop = async () => {
    while (!stopping) {
      const request = options.request(next++);
      const submittedAt = Date.now();
      let id: string;
      try {
        const res = await fetch(`${options.gatewayUrl}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request), signal: AbortSignal.timeout(60_000) });
        const body = (await res.json()) as { id?: string; error?: { code: string } };
        if (res.status !== 202 || !body.id) throw new Error(`${res.status} ${body.error?.code ?? ''}`.trim());
        id = body.id;
      } catch (error) {
        const reason = (error as Error).message;
        refused.set(reason, (refused.get(reason) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      let followed: Awaited<ReturnType<typeof follow>>;
      try {
        followed = await follow(options.gatewayUrl, id);
      } catch (error) {
        unfollowed.push({ id, reason: (error as Error).message });
        continue;
      }
      const { view, startedAt, events } = followed;
      const record: JobRecord = {
        id,
        type: view.type,
        status: view.status,
        errorCode: view.error?.code ?? null,
        submittedAt,
        doneAt: Date.now(),
        createdAt: ms(view.createdAt)!,
        startedAt: ms(startedAt),
        finishedAt: ms(view.finishedAt),
        events,
      };
      records.push(record);
      options.onRecord?.(record);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return { records, refused, unfollowed };
}

/** A resolved-after-`ms` promise, for `until`. */
export const after = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
