export { fetchPage, acceptedContentTypes } from './fetch-page.ts';
export type { FetchOptions, FetchedPage } from './fetch-page.ts';
export { createArticleExtractor, sharedArticleExtractor, extractArticle, defaultExtractionLimits, defaultExtractionThreads } from './extractor.ts';
export type { ArticleExtractor, ArticleExtractorOptions, ExtractionLimits } from './extractor.ts';
export type { ExtractedArticle } from './extract.ts';
export { resolveArticle, defaultMaxArticleChars } from './resolve.ts';
export type { ArticleSource, ResolvedArticle, ResolveArticleOptions } from './resolve.ts';
export { normalizeWhitespace } from './text.ts';
