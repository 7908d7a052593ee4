import { CuratorError } from '@curator/contracts';
import { extractArticle } from './extract.ts';
import { fetchPage, type FetchOptions } from './fetch-page.ts';
import { normalizeWhitespace } from './text.ts';

export type ArticleSource = { url: string } | { text: string; title?: string };

export interface ResolvedArticle {
  title: string | null;
  text: string;
  source: 'text' | 'url';
  url?: string;
  byline?: string;
  lang?: string;
}

/** The article text a job works on: given inline, or fetched from its URL and extracted. */
export async function resolveArticle(input: ArticleSource, options: FetchOptions): Promise<ResolvedArticle> {
  if ('text' in input) {
    const text = normalizeWhitespace(input.text);
    if (!text) throw new CuratorError('bad_input', 'The article text is empty');
    const title = input.title ? normalizeWhitespace(input.title) : '';
    return { title: title || null, text, source: 'text' };
  }

  const page = await fetchPage(input.url, options);
  if (page.contentType === 'text/plain') {
    const text = normalizeWhitespace(page.body);
    if (!text) throw new CuratorError('extraction_failed', `${page.finalUrl} is empty`);
    return { title: null, text, source: 'url', url: page.finalUrl };
  }
  const article = extractArticle(page.body, page.finalUrl);
  const resolved: ResolvedArticle = { title: article.title, text: article.text, source: 'url', url: page.finalUrl };
  if (article.byline) resolved.byline = article.byline;
  if (article.lang) resolved.lang = article.lang;
  return resolved;
}
