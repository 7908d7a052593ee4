import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { CuratorClient, isCuratorApiError, type JobRequestInput, type JobView } from '@curator/client';
import { ApiKeyControl } from './api-key.tsx';
import { Compare } from './compare.tsx';
import { JobForm, fieldId, type RerunTarget, type SubmitOutcome } from './form.tsx';
import { History, type KnownJob } from './history.tsx';
import { JobPanel } from './job.tsx';
import { draftFromRequest, emptyDraft, mergeOverrides, textKnobs, type Draft } from './knobs.ts';
import type { Problem } from './messages.ts';
import { problemFrom } from './problem.tsx';
import { loadApiKey, loadNotes, saveNotes, type JobNote } from './store.ts';

type Route = { view: 'home' } | { view: 'job'; id: string } | { view: 'compare'; ids: [string, string] };

/** `#/jobs/<id>` and `#/compare/<a>,<b>`: hash routes, so the gateway serves one file for every view. */
function parseRoute(hash: string): Route {
  const job = /^#\/jobs\/([\w-]{1,200})$/.exec(hash);
  if (job) return { view: 'job', id: job[1]! };
  const compare = /^#\/compare\/([\w-]{1,200}),([\w-]{1,200})$/.exec(hash);
  if (compare) return { view: 'compare', ids: [compare[1]!, compare[2]!] };
  return { view: 'home' };
}

const routeIds = (route: Route): string[] => (route.view === 'job' ? [route.id] : route.view === 'compare' ? route.ids : []);

/** Jobs per page of the history (`GET /jobs?limit=`). */
const pageSize = 20;

interface Listing {
  /** The caller's jobs as the API listed them, newest first (and jobs made here since). */
  ids: string[];
  /** Where the next page starts; null after the last one. */
  cursor: string | null;
  loading: boolean;
}

/** The article of a request in a few words (url, title or the start of its text). */
function articleOf(request: JobRequestInput): string | null {
  const input = request.input as { url?: string; title?: string; text?: string };
  const text = input.title ?? input.url ?? input.text ?? null;
  return text && text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

export function App() {
  // Same origin as the page; the key is read on every request, so a newly saved key applies at once.
  const client = useMemo(() => new CuratorClient({ apiKey: loadApiKey }), []);
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash));
  const [notes, setNotes] = useState<JobNote[]>(loadNotes);
  const [jobs, setJobs] = useState<Record<string, KnownJob>>({});
  const [listing, setListing] = useState<Listing>({ ids: [], cursor: null, loading: true });
  const [streamProblems, setStreamProblems] = useState<Record<string, Problem>>({});
  const [historyProblem, setHistoryProblem] = useState<Problem | null>(null);
  const [needsKey, setNeedsKey] = useState(false);
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [rerun, setRerun] = useState<RerunTarget | null>(null);
  // Bumped to follow the jobs on screen again (a retried job, a new API key).
  const [followRound, setFollowRound] = useState(0);
  const headingRef = useRef<HTMLHeadingElement | null>(null);
  const focusOnRoute = useRef(false);

  const remember = useCallback((job: KnownJob) => setJobs((known) => ({ ...known, [job.id]: job })), []);
  const addNote = (note: JobNote) => setNotes((now) => saveNotes([note, ...now.filter((other) => other.id !== note.id)]));

  /** A failure in words; a refusal for want of a key also opens the key control. */
  const problemOf = useCallback((error: unknown): Problem => {
    if (isCuratorApiError(error) && error.code === 'unauthorized') setNeedsKey(true);
    return problemFrom(error);
  }, []);

  useEffect(() => {
    const onHash = () => {
      focusOnRoute.current = true;
      setRoute(parseRoute(location.hash));
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  // After moving to another view, the focus goes to its heading (keyboard and screen reader users land there).
  useEffect(() => {
    if (!focusOnRoute.current) return;
    focusOnRoute.current = false;
    headingRef.current?.focus();
  }, [route]);

  /** A page of the caller's jobs from the API: the first (a refresh), or the one after `cursor`. */
  const readPage = useCallback(
    async (cursor: string | null) => {
      setListing((now) => ({ ...now, loading: true }));
      try {
        const page = await client.list({ limit: pageSize, ...(cursor ? { cursor } : {}) });
        const ids = page.jobs.map((job) => job.id);
        setJobs((known) => ({ ...known, ...Object.fromEntries(page.jobs.map((job) => [job.id, job])) }));
        setListing((now) => ({ ids: cursor ? [...now.ids, ...ids.filter((id) => !now.ids.includes(id))] : ids, cursor: page.nextCursor, loading: false }));
        setHistoryProblem(null);
        setNeedsKey(false);
      } catch (error) {
        setHistoryProblem(problemOf(error));
        setListing((now) => ({ ...now, loading: false }));
      }
    },
    [client, problemOf],
  );

  useEffect(() => {
    void readPage(null);
  }, [readPage]);

  // Follows the jobs on screen live; the first event is the job as it is now, finished or not.
  const ids = routeIds(route).join(',');
  useEffect(() => {
    const controller = new AbortController();
    for (const id of ids ? ids.split(',') : []) {
      void (async () => {
        try {
          for await (const { job } of client.events(id, { signal: controller.signal })) remember(job);
          setStreamProblems(({ [id]: _gone, ...rest }) => rest);
        } catch (error) {
          if (controller.signal.aborted) return;
          if (isCuratorApiError(error) && error.code === 'job_not_found') remember({ id, error: { code: 'job_not_found', message: error.message } });
          setStreamProblems((now) => ({ ...now, [id]: problemOf(error) }));
        }
      })();
    }
    return () => controller.abort();
  }, [ids, client, remember, problemOf, followRound]);

  const navigate = (hash: string) => {
    if (location.hash === hash) {
      headingRef.current?.focus();
      return;
    }
    location.hash = hash;
  };

  /** A refused submit or rerun: field details go to their fields, anything else is said in words. */
  const refusal = (error: unknown): SubmitOutcome => {
    const problem = problemOf(error);
    if (isCuratorApiError(error) && error.status >= 400 && error.status < 500 && error.details.length > 0) {
      return { details: error.details, ...(error.code === 'validation_failed' ? {} : { problem }) };
    }
    return { problem };
  };

  const started = (note: JobNote) => {
    addNote(note);
    setListing((now) => ({ ...now, ids: [note.id, ...now.ids.filter((id) => id !== note.id)] }));
    setRerun(null);
    navigate(`#/jobs/${note.id}`);
  };

  const submit = async (request: JobRequestInput): Promise<SubmitOutcome> => {
    try {
      const accepted = await client.submit(request);
      started({ id: accepted.id, request, submittedAt: new Date().toISOString() });
      return {};
    } catch (error) {
      return refusal(error);
    }
  };

  /** `POST /jobs/:id/rerun` with the changed knobs; the answer names the stages it reuses. */
  const submitRerun = async (overrides: Record<string, unknown>): Promise<SubmitOutcome> => {
    if (!rerun) return {};
    try {
      const accepted = await client.rerun(rerun.id, Object.keys(overrides).length > 0 ? { params: overrides } : {});
      const original = notes.find((note) => note.id === rerun.id)?.request;
      started({
        id: accepted.id,
        submittedAt: new Date().toISOString(),
        rerunOf: accepted.rerunOf,
        reusedStages: accepted.reusedStages,
        ...(original ? { request: mergeOverrides(original, overrides) } : {}),
      });
      return {};
    } catch (error) {
      return refusal(error);
    }
  };

  const cancel = async (id: string): Promise<Problem | null> => {
    try {
      remember(await client.cancel(id));
      return null;
    } catch (error) {
      return problemOf(error);
    }
  };

  /** `POST /jobs/:id/retry`: the same job runs again; its stream is followed anew. */
  const retry = async (id: string): Promise<Problem | null> => {
    try {
      await client.retry(id);
      setFollowRound((round) => round + 1);
      return null;
    } catch (error) {
      return problemOf(error);
    }
  };

  const startRerun = (job: JobView) => {
    const request = notes.find((note) => note.id === job.id)?.request;
    const base = request ? draftFromRequest(request) : emptyDraft();
    const article = request ? articleOf(request) : job.type === 'curate' ? (job.result?.title ?? null) : null;
    setDraft(base);
    setRerun({ id: job.id, base, known: request !== undefined, article });
    requestAnimationFrame(() => document.getElementById(fieldId(textKnobs.imagePrefix.path))?.focus());
  };

  /** A key saved or forgotten: read the list again and follow the jobs on screen with it. */
  const keyChanged = () => {
    setStreamProblems({});
    void readPage(null);
    setFollowRound((round) => round + 1);
  };

  return (
    <>
      <a
        class="skip-link"
        href="#form-title"
        onClick={(event) => {
          // Not a hash change: the hash holds the route.
          event.preventDefault();
          document.getElementById('form-title')?.focus();
        }}
      >
        Skip to the form
      </a>
      <header class="site-header">
        <h1>
          Curator <span class="subtitle">studio</span>
        </h1>
        <nav class="top-nav" aria-label="Studio">
          <ApiKeyControl asked={needsKey} onChange={keyChanged} />
          <a href="/docs">API docs</a>
        </nav>
      </header>
      <main class="layout">
        <div class="compose">
          <JobForm draft={draft} onDraft={setDraft} rerun={rerun} onStartOver={() => setRerun(null)} onSubmit={submit} onRerun={submitRerun} />
        </div>
        <div class="workspace">
          {route.view === 'job' ? (
            <JobPanel
              id={route.id}
              job={jobOf(jobs[route.id])}
              note={notes.find((note) => note.id === route.id)}
              problem={streamProblems[route.id] ?? null}
              headingRef={headingRef}
              onCancel={cancel}
              onRetry={retry}
              onRerun={startRerun}
            />
          ) : route.view === 'compare' ? (
            <Compare ids={route.ids} jobs={jobs} notes={notes} headingRef={headingRef} />
          ) : (
            <section class="intro" aria-labelledby="intro-title">
              <h2 id="intro-title" tabIndex={-1} ref={headingRef}>
                Turn an article into a card
              </h2>
              <p>Give the address of a news article, or paste its text, and choose the knobs. Curator reads it, judges its sentiment (or genre), summarises it, writes a headline and draws a picture, then sets the text on the card.</p>
              <p>Each stage shows here as it runs. Rerun a job with other knobs and the stages that did not change come straight from the cache.</p>
            </section>
          )}
        </div>
        <div class="archive">
          <History
            ids={listing.ids}
            jobs={jobs}
            notes={notes}
            more={listing.cursor !== null}
            loading={listing.loading}
            problem={historyProblem}
            onRefresh={() => void readPage(null)}
            onMore={() => void readPage(listing.cursor)}
            onCompare={(a, b) => navigate(`#/compare/${a},${b}`)}
          />
        </div>
      </main>
    </>
  );
}

const jobOf = (known: KnownJob | undefined): JobView | undefined => (known && 'status' in known ? known : undefined);
