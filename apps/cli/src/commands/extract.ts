import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { CuratorError, isCuratorError } from '@curator/contracts';
import { CuratorConfigError, loadEnv, type Env } from '@curator/config';
import { createArticleExtractor, normalizeWhitespace, resolveArticle, type ArticleExtractor } from '@curator/articles';

export interface ExtractOutput {
  title: string | null;
  text: string;
  byline?: string;
  lang?: string;
}

/** Where the command writes; tests pass their own. */
export interface CommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  fail(exitCode: number): void;
}

const processIo: CommandIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  // exitCode rather than exit(): lets pending output drain before the process ends.
  fail: (exitCode) => void (process.exitCode = exitCode),
};

const htmlExtensions = new Set(['.html', '.htm', '.xhtml', '.shtml']);
const textExtensions = new Set(['.txt', '.text', '.md']);

function looksLikeHtml(content: string): boolean {
  return /^\s*(<!doctype html|<html|<head|<body|<meta|<article|<main|<div|<p[\s>])/i.test(content) || /<(html|body)[\s>]/i.test(content.slice(0, 4096));
}

async function extractFromFile(path: string, extractor: () => ArticleExtractor): Promise<ExtractOutput> {
  const absolute = resolve(path);
  let content: string;
  try {
    content = new TextDecoder('utf-8').decode(await readFile(absolute));
  } catch (error) {
    throw new CuratorError('bad_input', `Cannot read ${absolute}: ${(error as Error).message}`, { cause: error });
  }
  const extension = extname(absolute).toLowerCase();
  const isHtml = htmlExtensions.has(extension) || (!textExtensions.has(extension) && looksLikeHtml(content));
  if (!isHtml) {
    const text = normalizeWhitespace(content);
    if (!text) throw new CuratorError('bad_input', `${absolute} is empty`);
    return { title: null, text };
  }
  const article = await extractor().extract(content, pathToFileURL(absolute).href);
  return pick(article);
}

function pick(article: ExtractOutput): ExtractOutput {
  const output: ExtractOutput = { title: article.title, text: article.text };
  if (article.byline) output.byline = article.byline;
  if (article.lang) output.lang = article.lang;
  return output;
}

/** A URL goes the way a job's does: fetched under the fetch rules, extracted, held to MAX_ARTICLE_CHARS. */
async function extractFromUrl(url: string, env: Env, extractor: () => ArticleExtractor, allowPrivate: boolean): Promise<ExtractOutput> {
  const article = await resolveArticle(
    { url },
    {
      fetch: {
        timeoutMs: env.FETCH_TIMEOUT_MS,
        maxBytes: env.FETCH_MAX_BYTES,
        maxRedirects: env.FETCH_MAX_REDIRECTS,
        allowedPorts: env.FETCH_ALLOWED_PORTS,
        allowPrivate: allowPrivate || env.FETCH_ALLOW_PRIVATE,
      },
      extractor: extractor(),
      maxChars: env.MAX_ARTICLE_CHARS,
    },
  );
  return pick(article);
}

/** `curator extract <fileOrUrl>`: prints the article found in a local file or at a URL as JSON. */
export function registerExtractCommand(program: Command, io: CommandIo = processIo): void {
  program
    .command('extract')
    .description('Extract the article from a local HTML or text file, or from an http(s) URL, and print it as JSON')
    .argument('<fileOrUrl>', 'path of an .html/.txt file, or an http(s) URL')
    .option('--allow-private', 'allow fetching private and loopback addresses (FETCH_ALLOW_PRIVATE)')
    .action(async (fileOrUrl: string, options: { allowPrivate?: boolean }) => {
      let extractor: ArticleExtractor | undefined;
      try {
        const env = loadEnv();
        // The worker's way: extraction in a thread with the configured deadline and page limits, started
        // only for a page (a text file needs none).
        const lazyExtractor = () => (extractor ??= createArticleExtractor({ timeoutMs: env.EXTRACT_TIMEOUT_MS, maxDepth: env.EXTRACT_MAX_DEPTH, maxNodes: env.EXTRACT_MAX_NODES, threads: 1 }));
        const output = /^https?:\/\//i.test(fileOrUrl)
          ? await extractFromUrl(fileOrUrl, env, lazyExtractor, options.allowPrivate === true)
          : await extractFromFile(fileOrUrl, lazyExtractor);
        io.stdout(`${JSON.stringify(output, null, 2)}\n`);
      } catch (error) {
        const code = isCuratorError(error) || error instanceof CuratorConfigError ? error.code : 'internal_error';
        const message = error instanceof Error ? error.message : String(error);
        io.stderr(`${code}: ${message}\n`);
        io.fail(1);
      } finally {
        await extractor?.close();
      }
    });
}
