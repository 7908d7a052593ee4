import { CuratorError } from '@curator/contracts';
import { sharedArticleExtractor, type ArticleExtractor } from './extractor.ts';
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

/** packages/config's MAX_ARTICLE_CHARS default, for callers that pass no limit. */
export const defaultMaxArticleChars = 100_000;

export interface ResolveArticleOptions {
  fetch: FetchOptions;
  /** Extraction threads; default the process's shared extractor with the default limits. */
  extractor?: ArticleExtractor;
  /**
   * Longest article text, in UTF-16 code units as the gateway counts `input.text`; a longer one, given or
   * fetched, fails with `text_too_long` (never silently cut: a summary of half an article is wrong).
   * Default defaultMaxArticleChars.
   */
  maxChars?: number;
  /** Aborting (the job was canceled) stops the fetch or the extraction with `canceled`. */
  signal?: AbortSignal;
}

function withinLimit(article: ResolvedArticle, maxChars: number, where: string): ResolvedArticle {
  if (article.text.length > maxChars) {
    throw new CuratorError('text_too_long', `The article ${where} is ${article.text.length} characters; the limit is ${maxChars}`);
  }
  return article;
}

/** The article text a job works on: given inline, or fetched from its URL and extracted off the main thread. */
export async function resolveArticle(input: ArticleSource, options: ResolveArticleOptions): Promise<ResolvedArticle> {
  const maxChars = options.maxChars ?? defaultMaxArticleChars;
  if ('text' in input) {
    const text = normalizeWhitespace(input.text);
    if (!text) throw new CuratorError('bad_input', 'The article text is empty');
    const title = input.title ? normalizeWhitespace(input.title) : '';
    return withinLimit({ title: title || null, text, source: 'text' }, maxChars, 'given');
  }

  const signal = options.signal;
  const page = await fetchPage(input.url, signal ? { ...options.fetch, signal } : options.fetch);
  const where = `at ${page.finalUrl}`;
  if (page.contentType === 'text/plain') {
    const text = normalizeWhitespace(page.body);
    if (!text) throw new CuratorError('extraction_failed', `${page.finalUrl} is empty`);
    return withinLimit({ title: null, text, source: 'url', url: page.finalUrl }, maxChars, where);
  }
  const extractor = options.extractor ?? sharedArticleExtractor();
  const article = await extractor.extract(page.body, page.finalUrl, signal ? { signal } : {});
  const resolved: ResolvedArticle = { title: article.title, text: article.text, source: 'url', url: page.finalUrl };
  if (article.byline) resolved.byline = article.byline;
  if (article.lang) resolved.lang = article.lang;
  return withinLimit(resolved, maxChars, where);
}
