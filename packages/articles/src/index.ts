export { fetchPage, acceptedContentTypes } from './fetch-page.ts';
export type { FetchOptions, FetchedPage } from './fetch-page.ts';
export { extractArticle } from './extract.ts';
export type { ExtractedArticle } from './extract.ts';
export { resolveArticle } from './resolve.ts';
export type { ArticleSource, ResolvedArticle } from './resolve.ts';
export { normalizeWhitespace } from './text.ts';
export { isPublicAddress, addressRange, canonicalAddress } from './address-policy.ts';
