// The form's knobs, with bounds and defaults read from the contracts' zod schemas (never retyped
// here): a contract change shows in the form at the next build.
import type { z } from 'zod';
import { curateParamsSchema, imageParamsSchema, detailsFromZod, jobRequestSchema, type ErrorDetail, type JobRequestInput } from '@curator/contracts';

interface KnobBase {
  /** The field as the API names it in `details[].path`, e.g. `params.image.steps`. */
  path: string;
  label: string;
  help: string | undefined;
}
export interface NumberKnob extends KnobBase {
  kind: 'number';
  min: number | undefined;
  max: number | undefined;
  step: number | 'any';
  defaultValue: number | undefined;
}
export interface ChoiceKnob extends KnobBase {
  kind: 'choice';
  options: readonly string[];
  defaultValue: string | undefined;
  /** Leaving it unset lets the server choose (for example the model's own scheduler). */
  optional: boolean;
}
export interface TextKnob extends KnobBase {
  kind: 'text';
  maxLength: number | undefined;
  defaultValue: string | undefined;
}
export type Knob = NumberKnob | ChoiceKnob | TextKnob;

interface Unwrapped {
  inner: z.ZodType;
  defaultValue: unknown;
  optional: boolean;
  description: string | undefined;
}

/** Peels `.optional()` and `.default()` off a field, keeping what they said. */
function unwrap(schema: z.ZodType): Unwrapped {
  let inner = schema as z.ZodType & { unwrap?: () => z.ZodType; def: { defaultValue?: unknown } };
  let defaultValue: unknown;
  let optional = false;
  let description = schema.description;
  for (;;) {
    if (inner.type === 'optional') optional = true;
    else if (inner.type === 'default') defaultValue ??= inner.def.defaultValue;
    else break;
    inner = inner.unwrap!() as typeof inner;
    description ??= inner.description;
  }
  return { inner, defaultValue, optional, description };
}

/**
 * The smallest step between accepted integers from the minimum up (8 for a width that must be a
 * multiple of 8): the rule lives in a refinement the schema cannot show, so it is found by asking it.
 */
function integerStep(schema: z.ZodType, min: number): number {
  for (let step = 1; step <= 256; step++) if (schema.safeParse(min + step).success) return step;
  return 1;
}

function numberKnob(path: string, label: string, schema: z.ZodType, help?: string): NumberKnob {
  const { inner, defaultValue, description } = unwrap(schema);
  const number = inner as z.ZodNumber;
  if (number.type !== 'number') throw new Error(`${path} is not a number in the contracts`);
  const min = number.minValue ?? undefined;
  const max = number.maxValue ?? undefined;
  const safeMin = min !== undefined && Number.isFinite(min) ? min : undefined;
  const safeMax = max !== undefined && Number.isFinite(max) ? max : undefined;
  return {
    kind: 'number',
    path,
    label,
    help: help ?? description,
    min: safeMin,
    max: safeMax,
    step: number.isInt ? integerStep(inner, safeMin ?? 0) : 'any',
    defaultValue: typeof defaultValue === 'number' ? defaultValue : undefined,
  };
}

function choiceKnob(path: string, label: string, schema: z.ZodType, help?: string): ChoiceKnob {
  const { inner, defaultValue, optional, description } = unwrap(schema);
  const options = (inner as z.ZodEnum).options as readonly string[] | undefined;
  if (!options) throw new Error(`${path} is not a choice in the contracts`);
  return { kind: 'choice', path, label, help: help ?? description, options, defaultValue: typeof defaultValue === 'string' ? defaultValue : undefined, optional };
}

function textKnob(path: string, label: string, schema: z.ZodType, help?: string): TextKnob {
  const { inner, defaultValue, description } = unwrap(schema);
  const maxLength = (inner as z.ZodString).maxLength ?? undefined;
  return { kind: 'text', path, label, help: help ?? description, maxLength, defaultValue: typeof defaultValue === 'string' ? defaultValue : undefined };
}

const curate = curateParamsSchema.shape;
/** The card's image knobs: bounds from curate's `image`, defaults from ImageParams (what the worker fills in). */
const imageBounds = unwrap(curate.image).inner as unknown as { shape: Record<string, z.ZodType> };
const imageDefaults = imageParamsSchema.shape;
const imageKnob = <K extends keyof typeof imageDefaults & string>(key: K) => {
  const bounds = imageBounds.shape[key]!;
  // Partial fields lose their defaults; ImageParams still has them.
  const fallback = unwrap(imageDefaults[key]);
  return { bounds, defaultValue: fallback.defaultValue, description: fallback.description };
};

function imageNumber(key: 'steps' | 'guidanceScale' | 'width' | 'height', label: string, help?: string): NumberKnob {
  const { bounds, defaultValue, description } = imageKnob(key);
  const knob = numberKnob(`params.image.${key}`, label, bounds, help ?? description);
  return { ...knob, defaultValue: typeof defaultValue === 'number' ? defaultValue : knob.defaultValue };
}

function imageChoice(key: 'scheduler', label: string): ChoiceKnob {
  const { bounds, description } = imageKnob(key);
  return { ...choiceKnob(`params.image.${key}`, label, bounds), help: description };
}

/** The reference tutorial's knobs, in the order the form shows them. */
export const textKnobs = {
  imagePrefix: textKnob('params.imagePrefix', 'Image prompt prefix', curate.imagePrefix, 'Put before the summary to make the prompt of the picture.'),
  summaryMaxTokens: numberKnob('params.summaryMaxTokens', 'Summary length (tokens)', curate.summaryMaxTokens, 'The most tokens the summary may have.'),
  headlineMaxTokens: numberKnob('params.headlineMaxTokens', 'Headline length (tokens)', curate.headlineMaxTokens, 'The most tokens the headline may have.'),
  noRepeatNgramSize: numberKnob('params.noRepeatNgramSize', 'No-repeat n-gram size', curate.noRepeatNgramSize, 'The headline never repeats a run of this many tokens.'),
  temperature: numberKnob('params.temperature', 'Temperature', curate.temperature),
  analysis: choiceKnob('params.analysis', 'Analysis', curate.analysis, 'Sentiment (negative, neutral, positive) or the news genre.'),
  cardText: choiceKnob('params.cardText', 'Card text', curate.cardText),
  seed: numberKnob('params.seed', 'Seed', curate.seed, 'Same seed, same output. Leave empty for a new one each run.'),
} as const;

export const imageKnobs = {
  steps: imageNumber('steps', 'Steps', 'Denoising steps: more is slower and finer.'),
  guidanceScale: imageNumber('guidanceScale', 'Guidance', 'How closely the picture follows the prompt.'),
  scheduler: imageChoice('scheduler', 'Scheduler'),
  width: imageNumber('width', 'Width (px)'),
  height: imageNumber('height', 'Height (px)'),
} as const;

export const allKnobs: readonly Knob[] = [...Object.values(textKnobs), ...Object.values(imageKnobs)];

/** The article fields, as the API names them. */
export const articlePaths = { url: 'input.url', text: 'input.text', title: 'input.title', any: 'input' } as const;

export type ArticleSource = 'url' | 'text';

/** What the form holds: the article and each knob's raw text (empty: leave it to the server's default). */
export interface Draft {
  source: ArticleSource;
  url: string;
  text: string;
  title: string;
  knobs: Record<string, string>;
}

export function emptyDraft(): Draft {
  const knobs: Record<string, string> = {};
  for (const knob of allKnobs) knobs[knob.path] = knob.defaultValue === undefined ? '' : String(knob.defaultValue);
  return { source: 'url', url: '', text: '', title: '', knobs };
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}

function getPath(source: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), source);
}

/** The request the draft stands for. Empty knobs are left out, so the server's defaults apply. */
export function requestFromDraft(draft: Draft): JobRequestInput {
  const input: Record<string, string> = draft.source === 'url' ? { url: draft.url.trim() } : { text: draft.text };
  if (draft.title.trim()) input.title = draft.title.trim();
  const request: Record<string, unknown> = { type: 'curate', input, params: {} };
  for (const knob of allKnobs) {
    const raw = draft.knobs[knob.path] ?? '';
    if (raw === '' && knob.kind !== 'text') continue;
    setPath(request, knob.path, knob.kind === 'number' ? Number(raw) : raw);
  }
  return request as JobRequestInput;
}

/** The draft a stored request stands for (to rerun it with changed knobs). */
export function draftFromRequest(request: JobRequestInput): Draft {
  const draft = emptyDraft();
  const input = request.input as { url?: string; text?: string; title?: string };
  draft.source = input.url !== undefined ? 'url' : 'text';
  draft.url = input.url ?? '';
  draft.text = input.text ?? '';
  draft.title = input.title ?? '';
  for (const knob of allKnobs) {
    const value = getPath(request, knob.path);
    if (value !== undefined && value !== null) draft.knobs[knob.path] = String(value);
  }
  return draft;
}

/** The request's problems as the API would name them (`details[].path`), from the same schema the gateway uses. */
export function validateRequest(request: JobRequestInput): ErrorDetail[] {
  const parsed = jobRequestSchema.safeParse(request);
  return parsed.success ? [] : detailsFromZod(parsed.error);
}

/** The messages of `details` that belong to the field at `path` (or to a field inside it). */
export function detailsFor(details: readonly ErrorDetail[], path: string): ErrorDetail[] {
  return details.filter((detail) => detail.path === path || detail.path.startsWith(`${path}.`));
}

/** The knob paths whose values differ between two requests (for comparing runs). */
export function changedKnobs(a: JobRequestInput, b: JobRequestInput): Array<{ knob: Knob; before: unknown; after: unknown }> {
  const valueOf = (request: JobRequestInput, knob: Knob) => getPath(request, knob.path) ?? knob.defaultValue;
  return allKnobs.filter((knob) => valueOf(a, knob) !== valueOf(b, knob)).map((knob) => ({ knob, before: valueOf(a, knob), after: valueOf(b, knob) }));
}

/** A knob's typed value from its raw text (undefined: empty, the server decides). */
function knobValue(knob: Knob, raw: string): unknown {
  if (raw === '' && knob.kind !== 'text') return undefined;
  return knob.kind === 'number' ? Number(raw) : raw;
}

/**
 * A rerun's parameter overrides: each knob changed from what the form showed at the start of the
 * rerun, by its path under `params` (the server merges them over the original's params).
 */
export function rerunOverrides(base: Draft, draft: Draft): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const knob of allKnobs) {
    const before = base.knobs[knob.path] ?? '';
    const after = draft.knobs[knob.path] ?? '';
    const value = knobValue(knob, after);
    if (after === before || value === undefined) continue;
    setPath(params, knob.path.slice('params.'.length), value);
  }
  return params;
}

/** A curate job's overrides, as the rerun's schema allows them (every knob optional; `image` merged key by key). */
const curateOverridesSchema = curateParamsSchema.partial().extend({ image: imageParamsSchema.partial().optional() }).strict();

/** The overrides' problems as the API would name them (`params.image.width`). */
export function validateOverrides(params: Record<string, unknown>): ErrorDetail[] {
  const parsed = curateOverridesSchema.safeParse(params);
  return parsed.success ? [] : detailsFromZod(parsed.error, ['params']);
}

/** The request a rerun stands for: the original's, with the overrides merged over its params (nested objects key by key). */
export function mergeOverrides(request: JobRequestInput, overrides: Record<string, unknown>): JobRequestInput {
  const merge = (base: unknown, over: unknown): unknown => {
    if (!over || typeof over !== 'object' || Array.isArray(over) || !base || typeof base !== 'object') return over;
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(over)) out[key] = merge(out[key], value);
    return out;
  };
  return { ...request, params: merge(request.params ?? {}, overrides) } as JobRequestInput;
}
