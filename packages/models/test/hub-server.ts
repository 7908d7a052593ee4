import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  path: string;
  range?: string;
  ifRange?: string;
  authorization?: string;
}

/**
 * Answers like the Hugging Face Hub: `/{repo}/resolve/{revision}/{file}` redirects (302) to a
 * CDN-like `/cdn/...` path on the same server, which serves the bytes with a strong ETag and
 * honours Range + If-Range. LFS-like files also carry X-Linked-Etag (their sha256) on the redirect.
 */
export class FakeHub {
  readonly files = new Map<string, Buffer>();
  readonly requests: LoggedRequest[] = [];
  /** `<repo>/<revision>/<path>` -> bytes after which the next CDN response is cut off (once). */
  readonly cutAfter = new Map<string, number>();
  /** Files whose redirect carries X-Linked-Etag. */
  readonly linked = new Set<string>();
  /** A wrong X-Linked-Etag to send instead of the true sha256 (a corrupted mirror). */
  readonly linkedOverride = new Map<string, string>();
  private server: Server | undefined;
  private cdn: Server | undefined;
  url = '';
  /** The CDN listens on another port, so it is another host to the client (as a real CDN is). */
  cdnUrl = '';

  put(repo: string, revision: string, path: string, bytes: Buffer, options: { linked?: boolean } = {}): void {
    const key = `${repo}/${revision}/${path}`;
    this.files.set(key, bytes);
    if (options.linked) this.linked.add(key);
  }

  async start(): Promise<this> {
    const listen = async (): Promise<[Server, string]> => {
      const server = createServer((req, res) => this.handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
    };
    [this.server, this.url] = await listen();
    [this.cdn, this.cdnUrl] = await listen();
    return this;
  }

  async stop(): Promise<void> {
    for (const server of [this.server, this.cdn]) {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    }
  }

  cdnRequests(): LoggedRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/cdn/'));
  }

  hubRequests(): LoggedRequest[] {
    return this.requests.filter((r) => !r.path.startsWith('/cdn/'));
  }

  private handle(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const logged: LoggedRequest = { path: url.pathname };
    if (req.headers.range) logged.range = req.headers.range;
    if (typeof req.headers['if-range'] === 'string') logged.ifRange = req.headers['if-range'];
    if (req.headers.authorization) logged.authorization = req.headers.authorization;
    this.requests.push(logged);

    const resolve = /^\/(.+?\/.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve) {
      const key = `${resolve[1]}/${decodeURIComponent(resolve[2]!)}/${resolve[3]!.split('/').map(decodeURIComponent).join('/')}`;
      const bytes = this.files.get(key);
      if (!bytes) {
        res.writeHead(404).end('Entry not found');
        return;
      }
      const headers: Record<string, string> = { location: `${this.cdnUrl}/cdn/${encodeURIComponent(key)}?expires=1`, 'x-linked-size': String(bytes.length) };
      if (this.linked.has(key)) headers['x-linked-etag'] = `"${this.linkedOverride.get(key) ?? createHash('sha256').update(bytes).digest('hex')}"`;
      res.writeHead(302, headers).end();
      return;
    }
    const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
    const key = cdn ? decodeURIComponent(cdn[1]!) : '';
    const bytes = this.files.get(key);
    if (!bytes) {
      res.writeHead(404).end();
      return;
    }
    const etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === etag)) start = Number(range[1]);
    if (start >= bytes.length && start > 0) {
      res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
      return;
    }
    const body = bytes.subarray(start);
    const headers: Record<string, string> = { etag, 'accept-ranges': 'bytes', 'content-length': String(body.length), 'content-type': 'application/octet-stream' };
    if (start > 0) headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    const cut = this.cutAfter.get(key);
    if (cut !== undefined) {
      this.cutAfter.delete(key);
      res.write(body.subarray(0, cut), () => {
        // Give the bytes time to reach the client's file before the connection drops mid-body: a
        // client that errors while bytes are still queued for its write stream loses them (it then
        // resumes from fewer bytes, which is right but not what the resume tests look for), and a
        // busy 2-core CI machine needs more than a few milliseconds.
        setTimeout(() => res.socket?.destroy(), 250);
      });
      return;
    }
    res.end(body);
  }
}
