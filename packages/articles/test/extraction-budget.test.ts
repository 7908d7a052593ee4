import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CuratorError, type ErrorCode } from '@curator/contracts';
import { createArticleExtractor, defaultExtractionLimits, resolveArticle, type ArticleExtractor } from '../src/index.ts';
import { checkPageShape } from '../src/page-shape.ts';
import { nestedDivsPage, realShapedPage } from './pages.ts';

const newsPage = readFileSync(new URL('./fixtures/news-page.html', import.meta.url), 'utf8');
const newsTitle = 'Harbour town votes to rebuild its flooded sea wall';
/** Readability needs minutes for this once the shape check is out of the way (1,000 levels: seconds; 2,000: a minute). */
const minutesOfWork = nestedDivsPage(5_000);
/** Limits that let the pathological page through to Readability, so only the deadline can stop it. */
const noShapeLimits = { maxDepth: 1_000_000, maxNodes: 10_000_000 };

function failsWith(code: ErrorCode, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof CuratorError, `expected CuratorError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.retryable, false);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** Counts timer ticks on this thread: they only run while the event loop is free. */
function tickCounter(): { ticks(): number; stop(): void } {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  return { ticks: () => ticks, stop: () => clearInterval(timer) };
}

async function untilTicks(counter: { ticks(): number }, count: number): Promise<void> {
  const target = counter.ticks() + count;
  while (counter.ticks() < target) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('page shape check', () => {
  test('measures depth with the HTML implied-end-tag rules, in one pass', () => {
    const limits = { maxDepth: 50, maxNodes: 100_000 };
    assert.deepEqual(checkPageShape(nestedDivsPage(10), limits, 'https://a.example/'), { depth: 13, nodes: 15 });
    // Unclosed <p>, <li>, <option> and void elements do not nest, in a browser or here.
    const flat = `<html><body>${'<p>para'.repeat(5000)}<ul>${'<li>item'.repeat(5000)}</ul><select>${'<option>o'.repeat(5000)}</select>${'<br><img src=x>'.repeat(5000)}</body></html>`;
    const shape = checkPageShape(flat, limits, 'https://a.example/');
    assert.ok(shape.depth <= 4, `depth ${shape.depth}`);
    assert.equal(shape.nodes, 2 + 5000 + 1 + 5000 + 1 + 5000 + 10000);
  });

  test('the news fixture is far inside the default limits', () => {
    const shape = checkPageShape(newsPage, defaultExtractionLimits, 'https://a.example/');
    assert.ok(shape.depth < 50 && shape.nodes < 20_000, JSON.stringify(shape));
  });

  test('too deep or too many nodes is extraction_budget_exceeded', () => {
    assert.throws(() => checkPageShape(nestedDivsPage(100_000), defaultExtractionLimits, 'https://deep.example/'), failsWith('extraction_budget_exceeded', /deeper than the 256-level limit/));
    const wide = `<html><body>${'<span>x</span><!-- c -->'.repeat(600)}</body></html>`;
    assert.throws(() => checkPageShape(wide, { maxDepth: 50, maxNodes: 1000 }, 'https://wide.example/'), failsWith('extraction_budget_exceeded', /more than the 1000-node limit/));
    // html, body, 600 spans and 600 comments.
    assert.equal(checkPageShape(wide, { maxDepth: 50, maxNodes: 1202 }, 'https://wide.example/').nodes, 1202);
  });
});

describe('extraction off the main thread', () => {
  let server: Server;
  let origin: string;

  before(async () => {
    const pages: Record<string, string> = { '/deep': nestedDivsPage(100_000), '/news': newsPage, '/long': realShapedPage(300_000) };
    server = createServer((request, response) => {
      const page = pages[request.url ?? ''];
      if (page) response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('a fetched 100,000-level page fails with extraction_budget_exceeded, not retried, while other jobs go on', async () => {
    const extractor = createArticleExtractor();
    const counter = tickCounter();
    try {
      const fetch = { timeoutMs: 10_000, maxBytes: 5_000_000, maxRedirects: 3, allowPrivate: true };
      const deep = resolveArticle({ url: `${origin}/deep` }, { fetch, extractor });
      const small = resolveArticle({ url: `${origin}/news` }, { fetch, extractor });
      await assert.rejects(deep, failsWith('extraction_budget_exceeded', /deeper than the 256-level limit/));
      assert.equal((await small).title, newsTitle);
      await untilTicks(counter, 2);
    } finally {
      counter.stop();
      await extractor.close();
    }
  });

  test('while a thread grinds through a pathological page, timers tick and another page is extracted', async () => {
    const extractor = createArticleExtractor({ ...noShapeLimits, timeoutMs: 600_000, threads: 2 });
    const counter = tickCounter();
    const cancel = new AbortController();
    let heavySettled = false;
    const heavy = extractor.extract(minutesOfWork, 'https://deep.example/', { signal: cancel.signal });
    heavy.then(
      () => (heavySettled = true),
      () => (heavySettled = true),
    );
    try {
      const article = await extractor.extract(newsPage, 'https://courier.example/news/sea-wall');
      assert.equal(article.title, newsTitle);
      await untilTicks(counter, 3);
      assert.equal(heavySettled, false, 'the pathological page finished first: it was not pathological enough to prove anything');
      cancel.abort();
      await assert.rejects(heavy, failsWith('canceled'));
    } finally {
      counter.stop();
      await extractor.close();
    }
  });

  test('a thread that overruns its deadline is terminated, and the next extraction gets a fresh one', { timeout: 120_000 }, async () => {
    // One thread: had the overrunning thread been left to finish, the second extraction would wait
    // for it for many minutes (and this test would hit its timeout).
    // The default deadline: a shorter one could also stop the news page on a cold thread of a busy machine.
    const extractor = createArticleExtractor({ ...noShapeLimits, threads: 1 });
    try {
      const limit = new RegExp(`longer than the ${defaultExtractionLimits.timeoutMs} ms limit`);
      await assert.rejects(extractor.extract(minutesOfWork, 'https://deep.example/'), failsWith('extraction_budget_exceeded', limit));
      const article = await extractor.extract(newsPage, 'https://courier.example/news/sea-wall');
      assert.equal(article.title, newsTitle);
    } finally {
      await extractor.close();
    }
  });

  test('a fetched article longer than maxChars fails with text_too_long', async () => {
    const extractor = createArticleExtractor();
    try {
      const fetch = { timeoutMs: 10_000, maxBytes: 5_000_000, maxRedirects: 3, allowPrivate: true };
      const full = await resolveArticle({ url: `${origin}/long` }, { fetch, extractor });
      assert.ok(full.text.length > 1000);
      await assert.rejects(
        resolveArticle({ url: `${origin}/long` }, { fetch, extractor, maxChars: 1000 }),
        failsWith('text_too_long', new RegExp(`is ${full.text.length} characters; the limit is 1000`)),
      );
    } finally {
      await extractor.close();
    }
  });

  test('a page that needs more than the heap limit is extraction_budget_exceeded, and the next one gets a fresh thread', { timeout: 120_000 }, async () => {
    // jsdom starts in well under 80 MB; a 5 MB page (73,000 nodes, let through here) needs over 128 MB.
    const extractor = createArticleExtractor({ maxNodes: 10_000_000, timeoutMs: 600_000, threads: 1, maxHeapMb: 80 });
    try {
      await assert.rejects(extractor.extract(realShapedPage(5_000_000), 'https://huge.example/'), failsWith('extraction_budget_exceeded', /more than the 80 MB memory limit/));
      assert.equal((await extractor.extract(newsPage, 'https://courier.example/news/sea-wall')).title, newsTitle);
    } finally {
      await extractor.close();
    }
  });

  test('when no thread can start, extractions fail at once (retryable) instead of waiting forever', { timeout: 120_000 }, async () => {
    // A heap too small for jsdom itself: every thread dies while starting.
    const extractor = createArticleExtractor({ threads: 1, maxHeapMb: 4 });
    const failsToStart = (error: unknown) => error instanceof CuratorError && error.code === 'internal_error' && error.retryable && /No article extraction thread could start/.test(error.message);
    try {
      await assert.rejects(extractor.extract(newsPage, 'https://courier.example/'), failsToStart);
      await assert.rejects(extractor.extract(newsPage, 'https://courier.example/'), failsToStart);
    } finally {
      await extractor.close();
    }
  });

  test('closing the extractor fails extractions in flight and later ones with worker_shutdown', async () => {
    const extractor = createArticleExtractor({ ...noShapeLimits, timeoutMs: 600_000, threads: 1 });
    const inFlight = assert.rejects(extractor.extract(minutesOfWork, 'https://deep.example/'), (error: unknown) => error instanceof CuratorError && error.code === 'worker_shutdown' && error.retryable);
    await extractor.close();
    await inFlight;
    await assert.rejects(extractor.extract(newsPage, 'https://courier.example/'), (error: unknown) => error instanceof CuratorError && error.code === 'worker_shutdown');
  });
});
