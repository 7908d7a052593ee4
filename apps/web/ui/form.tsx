import { useRef, useState } from 'preact/hooks';
import type { ErrorDetail, JobRequestInput } from '@curator/client';
import {
  articlePaths,
  detailsFor,
  emptyDraft,
  imageKnobs,
  requestFromDraft,
  rerunOverrides,
  textKnobs,
  validateOverrides,
  validateRequest,
  type ChoiceKnob,
  type Draft,
  type Knob,
  type NumberKnob,
  type TextKnob,
} from './knobs.ts';
import { ProblemBox } from './problem.tsx';
import type { Problem } from './messages.ts';
import { shortId } from './format.ts';

export interface SubmitOutcome {
  problem?: Problem;
  /** The API's `details`, shown at the fields they name. */
  details?: readonly ErrorDetail[];
}

/** The job a rerun starts from, and what the form showed when it began (the overrides are the knobs changed since). */
export interface RerunTarget {
  id: string;
  base: Draft;
  /** The original's request is known (made in this browser): the form shows its knobs. Otherwise the defaults. */
  known: boolean;
  /** The original's article in a few words, where known. */
  article: string | null;
}

interface FormProps {
  draft: Draft;
  onDraft: (draft: Draft) => void;
  rerun: RerunTarget | null;
  onStartOver: () => void;
  onSubmit: (request: JobRequestInput) => Promise<SubmitOutcome>;
  onRerun: (overrides: Record<string, unknown>) => Promise<SubmitOutcome>;
}

/** An element id for the field the API names `path`. */
export const fieldId = (path: string): string => `f-${path.replaceAll('.', '-')}`;

function describedBy(id: string, hasHelp: boolean, hasError: boolean): string | undefined {
  return [hasHelp ? `${id}-hint` : '', hasError ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
}

function FieldErrors({ id, errors }: { id: string; errors: readonly ErrorDetail[] }) {
  if (errors.length === 0) return null;
  return (
    <div class="field-error" id={`${id}-error`}>
      {errors.map((error) => (
        <p key={`${error.path}:${error.message}`}>
          <code>{error.path}</code> {error.message}
        </p>
      ))}
    </div>
  );
}

function bounds(knob: NumberKnob): string {
  const range = knob.min !== undefined && knob.max !== undefined ? `${knob.min} to ${knob.max}` : '';
  const step = typeof knob.step === 'number' && knob.step > 1 ? `, in steps of ${knob.step}` : '';
  const fallback = knob.defaultValue === undefined ? '' : `; default ${knob.defaultValue}`;
  return `${range}${step}${fallback}`;
}

function NumberField({ knob, value, errors, onValue }: { knob: NumberKnob; value: string; errors: ErrorDetail[]; onValue: (value: string) => void }) {
  const id = fieldId(knob.path);
  return (
    <div class="field">
      <label for={id}>{knob.label}</label>
      <input
        id={id}
        name={knob.path}
        type="number"
        inputMode={knob.step === 'any' ? 'decimal' : 'numeric'}
        min={knob.min}
        max={knob.max}
        step={knob.step}
        placeholder={knob.defaultValue === undefined ? 'random' : undefined}
        value={value === 'NaN' ? undefined : value}
        aria-invalid={errors.length > 0}
        aria-describedby={describedBy(id, true, errors.length > 0)}
        onInput={(event) => onValue(event.currentTarget.validity.badInput ? 'NaN' : event.currentTarget.value)}
      />
      <p class="hint" id={`${id}-hint`}>
        {knob.help ? `${knob.help} ` : ''}
        <span class="bounds">{bounds(knob)}</span>
      </p>
      <FieldErrors id={id} errors={errors} />
    </div>
  );
}

function TextField({ knob, value, errors, onValue }: { knob: TextKnob; value: string; errors: ErrorDetail[]; onValue: (value: string) => void }) {
  const id = fieldId(knob.path);
  return (
    <div class="field field-wide">
      <label for={id}>{knob.label}</label>
      <input id={id} name={knob.path} type="text" value={value} aria-invalid={errors.length > 0} aria-describedby={describedBy(id, true, errors.length > 0)} onInput={(event) => onValue(event.currentTarget.value)} />
      <p class="hint" id={`${id}-hint`}>
        {knob.help} {knob.maxLength !== undefined ? <span class="bounds">Up to {knob.maxLength} characters.</span> : null}
      </p>
      <FieldErrors id={id} errors={errors} />
    </div>
  );
}

function ChoiceField({ knob, value, errors, onValue }: { knob: ChoiceKnob; value: string; errors: ErrorDetail[]; onValue: (value: string) => void }) {
  const id = fieldId(knob.path);
  if (knob.optional || knob.options.length > 3) {
    return (
      <div class="field">
        <label for={id}>{knob.label}</label>
        <select id={id} name={knob.path} value={value} aria-invalid={errors.length > 0} aria-describedby={describedBy(id, Boolean(knob.help), errors.length > 0)} onChange={(event) => onValue(event.currentTarget.value)}>
          {knob.optional ? <option value="">Model default</option> : null}
          {knob.options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
        {knob.help ? (
          <p class="hint" id={`${id}-hint`}>
            {knob.help}
          </p>
        ) : null}
        <FieldErrors id={id} errors={errors} />
      </div>
    );
  }
  return (
    <fieldset class="field choice" id={id} aria-describedby={describedBy(id, Boolean(knob.help), errors.length > 0)}>
      <legend>{knob.label}</legend>
      <div class="choices">
        {knob.options.map((option) => (
          <label key={option} class="choice-option">
            <input type="radio" name={knob.path} value={option} checked={value === option} onChange={() => onValue(option)} /> {option}
          </label>
        ))}
      </div>
      {knob.help ? (
        <p class="hint" id={`${id}-hint`}>
          {knob.help}
        </p>
      ) : null}
      <FieldErrors id={id} errors={errors} />
    </fieldset>
  );
}

function KnobField({ knob, draft, details, onKnob }: { knob: Knob; draft: Draft; details: readonly ErrorDetail[]; onKnob: (path: string, value: string) => void }) {
  const props = { value: draft.knobs[knob.path] ?? '', errors: detailsFor(details, knob.path), onValue: (value: string) => onKnob(knob.path, value) };
  if (knob.kind === 'number') return <NumberField knob={knob} {...props} />;
  if (knob.kind === 'choice') return <ChoiceField knob={knob} {...props} />;
  return <TextField knob={knob} {...props} />;
}

/** Every problem of the last attempt, each a button that takes the focus to its field. */
function ErrorSummary({ details, summaryRef }: { details: readonly ErrorDetail[]; summaryRef: { current: HTMLDivElement | null } }) {
  return (
    <div class="error-summary" tabIndex={-1} ref={summaryRef} role="group" aria-labelledby="error-summary-title">
      <h3 id="error-summary-title">Check {details.length === 1 ? 'this field' : `these ${details.length} fields`}</h3>
      <ul>
        {details.map((detail) => (
          <li key={`${detail.path}:${detail.message}`}>
            <button type="button" class="link" onClick={() => focusField(detail.path)}>
              <code>{detail.path}</code>: {detail.message}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Focuses the field a detail names, or the closest field that contains it (`input` for the article). */
function focusField(path: string): void {
  const parts = path.split('.');
  for (let end = parts.length; end > 0; end--) {
    const element = document.getElementById(fieldId(parts.slice(0, end).join('.')));
    if (!element) continue;
    const target = element instanceof HTMLFieldSetElement ? element.querySelector<HTMLInputElement>('input:checked, input') : element;
    target?.focus();
    return;
  }
}

export function JobForm({ draft, onDraft, rerun, onStartOver, onSubmit, onRerun }: FormProps) {
  const [details, setDetails] = useState<readonly ErrorDetail[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [tried, setTried] = useState(false);
  const summaryRef = useRef<HTMLDivElement | null>(null);

  // A rerun sends only the changed knobs (the server merges them over the original's), so only they are checked.
  const problemsOf = (next: Draft) => (rerun ? validateOverrides(rerunOverrides(rerun.base, next)) : validateRequest(requestFromDraft(next)));
  const update = (next: Draft) => {
    onDraft(next);
    // After a first attempt, messages follow the edits (a fixed field loses its message at once).
    if (tried) setDetails(problemsOf(next));
  };
  const onKnob = (path: string, value: string) => update({ ...draft, knobs: { ...draft.knobs, [path]: value } });
  const article = (field: 'url' | 'text' | 'title', value: string) => update({ ...draft, [field]: value });

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setTried(true);
    setProblem(null);
    const local = problemsOf(draft);
    setDetails(local);
    if (local.length > 0) {
      requestAnimationFrame(() => summaryRef.current?.focus());
      return;
    }
    setBusy(true);
    const outcome = rerun ? await onRerun(rerunOverrides(rerun.base, draft)) : await onSubmit(requestFromDraft(draft));
    setBusy(false);
    setDetails(outcome.details ?? []);
    setProblem(outcome.problem ?? null);
    if (outcome.details?.length) requestAnimationFrame(() => summaryRef.current?.focus());
  };

  const urlId = fieldId(articlePaths.url);
  const textId = fieldId(articlePaths.text);
  const titleId = fieldId(articlePaths.title);
  const inputErrors = details.filter((detail) => detail.path === articlePaths.any);
  const urlErrors = detailsFor(details, articlePaths.url);
  const textErrors = detailsFor(details, articlePaths.text);
  const titleErrors = detailsFor(details, articlePaths.title);

  return (
    <form class="job-form" noValidate onSubmit={submit} aria-labelledby="form-title">
      <h2 id="form-title" tabIndex={-1}>{rerun ? 'Rerun with changes' : 'New card'}</h2>
      {rerun ? (
        <div class="notice">
          <p>
            Rerunning job <code>{shortId(rerun.id)}</code> on the same article{rerun.article ? <> (<q class="rerun-article">{rerun.article}</q>)</> : null}: change the knobs and run it. Stages whose inputs did not change are reused, not run again.
          </p>
          {!rerun.known ? <p class="hint">This job was made elsewhere, so its knobs are not known here and the form shows the defaults: the knobs you change replace the original's, the others stay as they were.</p> : null}
          <button type="button" class="secondary" onClick={onStartOver}>
            Start a new card instead
          </button>
        </div>
      ) : null}
      {details.length > 0 ? <ErrorSummary details={details} summaryRef={summaryRef} /> : null}

      {rerun ? null : <fieldset class="group" id={fieldId(articlePaths.any)} aria-describedby={inputErrors.length ? `${fieldId(articlePaths.any)}-error` : undefined}>
        <legend>Article</legend>
        <div class="choices" role="radiogroup" aria-label="Where the article comes from">
          <label class="choice-option">
            <input type="radio" name="source" value="url" checked={draft.source === 'url'} onChange={() => update({ ...draft, source: 'url' })} /> From a web address
          </label>
          <label class="choice-option">
            <input type="radio" name="source" value="text" checked={draft.source === 'text'} onChange={() => update({ ...draft, source: 'text' })} /> Pasted text
          </label>
        </div>
        <FieldErrors id={fieldId(articlePaths.any)} errors={inputErrors} />
        {draft.source === 'url' ? (
          <div class="field field-wide">
            <label for={urlId}>Article address</label>
            <input id={urlId} name="input.url" type="url" inputMode="url" placeholder="https://example.com/news/story" value={draft.url} aria-invalid={urlErrors.length > 0} aria-describedby={describedBy(urlId, true, urlErrors.length > 0)} onInput={(event) => article('url', event.currentTarget.value)} />
            <p class="hint" id={`${urlId}-hint`}>
              A public web page; the worker fetches it and finds the article in it.
            </p>
            <FieldErrors id={urlId} errors={urlErrors} />
          </div>
        ) : (
          <div class="field field-wide">
            <label for={textId}>Article text</label>
            <textarea id={textId} name="input.text" rows={8} value={draft.text} aria-invalid={textErrors.length > 0} aria-describedby={describedBy(textId, true, textErrors.length > 0)} onInput={(event) => article('text', event.currentTarget.value)} />
            <p class="hint" id={`${textId}-hint`}>
              The article's text, pasted.
            </p>
            <FieldErrors id={textId} errors={textErrors} />
          </div>
        )}
        <div class="field field-wide">
          <label for={titleId}>Title (optional)</label>
          <input id={titleId} name="input.title" type="text" value={draft.title} aria-invalid={titleErrors.length > 0} aria-describedby={describedBy(titleId, true, titleErrors.length > 0)} onInput={(event) => article('title', event.currentTarget.value)} />
          <p class="hint" id={`${titleId}-hint`}>
            On the card when "Card text" is "title".
          </p>
          <FieldErrors id={titleId} errors={titleErrors} />
        </div>
      </fieldset>}

      <fieldset class="group knobs">
        <legend>Text</legend>
        {Object.values(textKnobs).map((knob) => (
          <KnobField key={knob.path} knob={knob} draft={draft} details={details} onKnob={onKnob} />
        ))}
      </fieldset>

      <fieldset class="group knobs">
        <legend>Picture</legend>
        {Object.values(imageKnobs).map((knob) => (
          <KnobField key={knob.path} knob={knob} draft={draft} details={details} onKnob={onKnob} />
        ))}
      </fieldset>

      {problem ? <ProblemBox problem={problem} alert /> : null}
      <div class="row form-actions">
        <button type="submit" class="primary" disabled={busy} aria-disabled={busy}>
          {busy ? 'Submitting…' : rerun ? 'Rerun' : 'Make the card'}
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            setDetails([]);
            setTried(false);
            onDraft(rerun ? rerun.base : { ...emptyDraft(), source: draft.source, url: draft.url, text: draft.text, title: draft.title });
          }}
        >
          Reset the knobs
        </button>
      </div>
    </form>
  );
}
