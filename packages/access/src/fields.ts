import type { ContentField } from './content-policy.ts';

type Path = readonly string[];

/** What the content policy reads in each job type's request: the text that becomes a picture. */
const checkedPaths: Record<string, readonly Path[]> = {
  'text-to-image': [['input', 'prompt'], ['params', 'negativePrompt']],
  curate: [['params', 'imagePrefix'], ['params', 'image', 'negativePrompt']],
};

/** Rerun overrides that can change what becomes a picture, whatever the original job's type. */
const rerunPaths: readonly Path[] = [['params', 'imagePrefix'], ['params', 'negativePrompt'], ['params', 'image', 'negativePrompt']];

function stringAt(value: unknown, path: Path): string | null {
  let at = value;
  for (const key of path) {
    if (!at || typeof at !== 'object' || Array.isArray(at)) return null;
    at = (at as Record<string, unknown>)[key];
  }
  return typeof at === 'string' ? at : null;
}

function fieldsAt(value: unknown, paths: readonly Path[], prefix: string): ContentField[] {
  const out: ContentField[] = [];
  for (const path of paths) {
    const text = stringAt(value, path);
    if (text !== null && text.trim() !== '') out.push({ path: prefix + path.join('.'), text });
  }
  return out;
}

/**
 * The texts of a `POST /jobs` body (one job or `{ jobs: [...] }`) that the content policy checks:
 * text-to-image prompts and negative prompts, curate image prefixes and negative prompts. Reads the
 * body as sent, before validation: what is not a string is skipped (validation refuses it anyway).
 */
export function submittedContent(body: unknown): ContentField[] {
  const batch = body && typeof body === 'object' && !Array.isArray(body) && Array.isArray((body as { jobs?: unknown }).jobs) ? ((body as { jobs: unknown[] }).jobs) : null;
  const requests = batch ?? [body];
  return requests.flatMap((request, index) => {
    const type = stringAt(request, ['type']);
    const paths = type ? checkedPaths[type] : undefined;
    return paths ? fieldsAt(request, paths, batch ? `jobs.${index}.` : '') : [];
  });
}

/** How many jobs a `POST /jobs` body asks for (a batch counts each). */
export function submittedJobCount(body: unknown): number {
  const jobs = body && typeof body === 'object' && !Array.isArray(body) ? (body as { jobs?: unknown }).jobs : undefined;
  return Array.isArray(jobs) ? Math.max(1, jobs.length) : 1;
}

/** The overrides of a `POST /jobs/:id/rerun` body the content policy checks. */
export function rerunContent(body: unknown): ContentField[] {
  return fieldsAt(body, rerunPaths, '');
}

/**
 * A curate job's generated text, checked before the image stage: the summary (it becomes the
 * image prompt), the headline, and the text set on the card when it is the article's title.
 */
export function generatedContent(text: { summary: string; headline: string; cardText?: string | null }): ContentField[] {
  const fields: ContentField[] = [
    { path: 'summary', text: text.summary },
    { path: 'headline', text: text.headline },
  ];
  if (text.cardText && text.cardText !== text.headline) fields.push({ path: 'cardText', text: text.cardText });
  return fields;
}
