// A loopback web server that plays the article sites of fault tests: pages answered at once, pages
// held open until the test lets them go (so a job is reliably mid-run when its worker is hit), and a
// page that exceeds any extraction budget. It counts every request, so a test sees how often a job ran.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@curator/testkit';

/** A short news article whose text names `slug`, so each job's article is its own (no cache hits). */
export function articleHtml(slug: string): string {
  return `<!doctype html><html lang="en"><head><title>Harbour reopens (${slug})</title></head><body><article><h1>Harbour reopens after storm (${slug})</h1>
<p>The harbour reopened on Monday after a week of repairs, and fishermen returned to work at dawn. Report ${slug}.</p>
<p>Officials said the new sea wall held well during the last storm, and that shops along the quay will reopen too.</p></article></body></html>`;
}

/** A page of `depth` nested divs (100,000: about 1.1 MB), the shape that wedged workers for minutes. */
export function nestedDivsHtml(depth: number): string {
  return `<!doctype html><html><head><title>Deep</title></head><body>${'<div>'.repeat(depth)}<p>Deep inside.</p>${'</div>'.repeat(depth)}</body></html>`;
}

export interface ArticleServer {
  base: string;
  /** Requests seen for a path so far. */
  arrivals(path: string): number;
  /** Resolves once `path` was requested `count` times. */
  arrived(path: string, count: number): Promise<void>;
  /** Answers the held requests for `/held/<slug>`, and those still to come, with the article. */
  release(slug: string): void;
  close(): Promise<void>;
}

export async function startArticleServer(options: { deepDivs?: number } = {}): Promise<ArticleServer> {
  const counts = new Map<string, number>();
  const held = new Map<string, ServerResponse[]>();
  const released = new Set<string>();
  const deepPage = nestedDivsHtml(options.deepDivs ?? 100_000);
  const html = (res: ServerResponse, body: string) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const [, kind, slug] = path.split('/');
    if (kind === 'article' && slug) return html(res, articleHtml(slug));
    if (kind === 'deep') return html(res, deepPage);
    if (kind === 'held' && slug) {
      if (released.has(slug)) return html(res, articleHtml(slug));
      held.set(slug, [...(held.get(slug) ?? []), res]);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    base,
    arrivals: (path) => counts.get(path) ?? 0,
    async arrived(path, count) {
      await waitFor(async () => counts.get(path) ?? 0, (n) => n >= count, `request number ${count} for ${path}`, 180_000);
    },
    release(slug) {
      released.add(slug);
      for (const res of held.get(slug) ?? []) if (!res.destroyed) html(res, articleHtml(slug));
      held.delete(slug);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
