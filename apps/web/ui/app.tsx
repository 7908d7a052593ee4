import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { CuratorClient, isCuratorApiError, type JobRequestInput, type JobView } from '@curator/client';
import { ApiKeyControl } from './api-key.tsx';
import { Compare } from './compare.tsx';
import { JobForm, fieldId, type SubmitOutcome } from './form.tsx';
import { History, type KnownJob } from './history.tsx';
import { JobPanel } from './job.tsx';
import { draftFromRequest, emptyDraft, textKnobs, type Draft } from './knobs.ts';
import type { Problem } from './messages.ts';
import { problemFrom } from './problem.tsx';
import { loadApiKey, loadHistory, saveHistory, type HistoryEntry } from './store.ts';

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

export function App() {
  // Same origin as the page; the key is read on every request, so a newly saved key applies at once.
  const client = useMemo(() => new CuratorClient({ apiKey: loadApiKey }), []);
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash));
  const [history, setHistory] = useState<HistoryEntry[]>(loadHistory);
  const [jobs, setJobs] = useState<Record<string, KnownJob>>({});
  const [streamProblems, setStreamProblems] = useState<Record<string, Problem>>({});
  const [historyProblem, setHistoryProblem] = useState<Problem | null>(null);
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [rerunOf, setRerunOf] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement | null>(null);
  const focusOnRoute = useRef(false);

  const remember = useCallback((job: KnownJob) => setJobs((known) => ({ ...known, [job.id]: job })), []);

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

  const refreshHistory = useCallback(async () => {
    const ids = loadHistory().map((entry) => entry.id);
    if (ids.length === 0) return;
    try {
      const found = await client.getMany(ids);
      setJobs((known) => ({ ...known, ...Object.fromEntries(found.map((job) => [job.id, job])) }));
      setHistoryProblem(null);
    } catch (error) {
      setHistoryProblem(problemFrom(error));
    }
  }, [client]);

  useEffect(() => {
    void refreshHistory();
  }, [refreshHistory]);

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
          setStreamProblems((now) => ({ ...now, [id]: problemFrom(error) }));
        }
      })();
    }
    return () => controller.abort();
  }, [ids, client, remember]);

  const navigate = (hash: string) => {
    if (location.hash === hash) {
      headingRef.current?.focus();
      return;
    }
    location.hash = hash;
  };

  const submit = async (request: JobRequestInput): Promise<SubmitOutcome> => {
    try {
      const accepted = await client.submit(request);
      const entry: HistoryEntry = { id: accepted.id, request, submittedAt: new Date().toISOString(), ...(rerunOf ? { rerunOf } : {}) };
      setHistory((entries) => saveHistory([entry, ...entries.filter((e) => e.id !== entry.id)]));
      setRerunOf(null);
      navigate(`#/jobs/${accepted.id}`);
      return {};
    } catch (error) {
      const problem = problemFrom(error);
      if (isCuratorApiError(error) && error.status >= 400 && error.status < 500 && error.details.length > 0) {
        return { details: error.details, ...(error.code === 'validation_failed' ? {} : { problem }) };
      }
      return { problem };
    }
  };

  const cancel = async (id: string): Promise<Problem | null> => {
    try {
      remember(await client.cancel(id));
      return null;
    } catch (error) {
      return problemFrom(error);
    }
  };

  const rerun = (entry: HistoryEntry) => {
    setDraft(draftFromRequest(entry.request));
    setRerunOf(entry.id);
    requestAnimationFrame(() => document.getElementById(fieldId(textKnobs.imagePrefix.path))?.focus());
  };

  const forget = (id: string) => setHistory((entries) => saveHistory(entries.filter((entry) => entry.id !== id)));

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
          <ApiKeyControl />
          <a href="/docs">API docs</a>
        </nav>
      </header>
      <main class="layout">
        <div class="compose">
          <JobForm draft={draft} onDraft={setDraft} rerunOf={rerunOf} onStartOver={() => setRerunOf(null)} onSubmit={submit} />
        </div>
        <div class="workspace">
          {route.view === 'job' ? (
            <JobPanel id={route.id} job={jobOf(jobs[route.id])} entry={history.find((entry) => entry.id === route.id)} problem={streamProblems[route.id] ?? null} headingRef={headingRef} onCancel={cancel} onRerun={rerun} />
          ) : route.view === 'compare' ? (
            <Compare ids={route.ids} jobs={jobs} entries={history} headingRef={headingRef} />
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
          <History entries={history} jobs={jobs} problem={historyProblem} onRefresh={() => void refreshHistory()} onForget={forget} onCompare={(a, b) => navigate(`#/compare/${a},${b}`)} />
        </div>
      </main>
    </>
  );
}

const jobOf = (known: KnownJob | undefined): JobView | undefined => (known && 'status' in known ? known : undefined);
