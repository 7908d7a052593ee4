import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface LoggedRequest {
  method: string;
  path: string;
  range?: string;
  ifRange?: string;
  authorization?: string;
}

/** The sha1 git gives a blob: what the Hub sends as the ETag of a file kept in git (not LFS). */
function gitBlobSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Answers like the Hugging Face Hub, on loopback: `/{repo}/resolve/{revision}/{file}` serves a
 * file kept in git directly (200, ETag = its git blob sha1, X-Repo-Commit) and redirects an LFS
 * file (302 with X-Linked-Etag = its sha256, X-Linked-Size, X-Repo-Commit) to a CDN-like `/cdn/...`
 * path on a second server, which serves the bytes with a strong ETag. Both honour Range + If-Range
 * and HEAD. A branch name resolves to its commit; unknown repos, revisions and files are 404s with
 * the Hub's X-Error-Code.
 */
export class FakeHub {
  readonly files = new Map<string, Buffer>();
  readonly requests: LoggedRequest[] = [];
  /** `<repo>/<revision>/<path>` -> bytes after which the next response of that file is cut off (once). */
  readonly cutAfter = new Map<string, number>();
  /** Files kept in LFS: their resolve redirects to the CDN and carries X-Linked-Etag. */
  readonly linked = new Set<string>();
  /** A wrong X-Linked-Etag to send instead of the true sha256 (a corrupted mirror). */
  readonly linkedOverride = new Map<string, string>();
  /** `<repo>@<branch>` -> commit sha. */
  readonly branches = new Map<string, string>();
  private server: Server | undefined;
  private cdn: Server | undefined;
  url = '';
  /** The CDN listens on another port, so it is another host to the client (as a real CDN is). */
  cdnUrl = '';

  put(repo: string, revision: string, path: string, bytes: Buffer, options: { linked?: boolean } = {}): void {
    const key = `${repo}/${revision}/${path}`;
    this.files.set(key, bytes);
    if (options.linked) this.linked.add(key);
    else this.linked.delete(key);
  }

  /** `branch` (e.g. `main`) of `repo` now points at `commit`. */
  branch(repo: string, branch: string, commit: string): void {
    this.branches.set(`${repo}@${branch}`, commit);
  }

  /**
   * Publishes every file under `dir` as `repo` at `commit` (and `main`). A `.gz` file is served
   * unzipped under its name without `.gz`; `lfs` says which files the Hub would keep in LFS
   * (default: weights, as the Hub's .gitattributes do).
   */
  async publishFolder(repo: string, commit: string, dir: string, lfs: (path: string) => boolean = (path) => /\.(bin|safetensors|onnx|onnx_data|h5|msgpack)$/.test(path)): Promise<Map<string, Buffer>> {
    const published = new Map<string, Buffer>();
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      let path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/');
      let bytes = await readFile(join(entry.parentPath, entry.name));
      if (path.endsWith('.gz')) {
        path = path.slice(0, -3);
        bytes = gunzipSync(bytes);
      }
      this.put(repo, commit, path, bytes, { linked: lfs(path) });
      published.set(path, bytes);
    }
    this.branch(repo, 'main', commit);
    return published;
  }

  async start(): Promise<this> {
    const listen = async (handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<[Server, string]> => {
      const server = createServer(handle);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
    };
    [this.server, this.url] = await listen((req, res) => this.handleHub(req, res));
    [this.cdn, this.cdnUrl] = await listen((req, res) => this.handleCdn(req, res));
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

  /** Requests for one file, on either host. */
  requestsFor(path: string): LoggedRequest[] {
    return this.requests.filter((r) => decodeURIComponent(r.path).endsWith(`/${path}`));
  }

  private log(req: IncomingMessage, url: URL): void {
    const logged: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname };
    if (req.headers.range) logged.range = req.headers.range;
    if (typeof req.headers['if-range'] === 'string') logged.ifRange = req.headers['if-range'];
    if (req.headers.authorization) logged.authorization = req.headers.authorization;
    this.requests.push(logged);
  }

  private notFound(res: ServerResponse, code: string, message: string): void {
    res.writeHead(404, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'text/plain' }).end(message);
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.log(req, url);
    const resolve = /^\/(.+?\/.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!resolve) return this.notFound(res, 'RepoNotFound', 'Repository not found');
    const repo = resolve[1]!;
    const revision = decodeURIComponent(resolve[2]!);
    const path = resolve[3]!.split('/').map(decodeURIComponent).join('/');
    const known = [...this.files.keys()].some((key) => key.startsWith(`${repo}/`));
    if (!known) return this.notFound(res, 'RepoNotFound', 'Repository not found');
    const commit = this.branches.get(`${repo}@${revision}`) ?? revision;
    if (![...this.files.keys()].some((key) => key.startsWith(`${repo}/${commit}/`))) return this.notFound(res, 'RevisionNotFound', `Invalid rev id: ${revision}`);
    const key = `${repo}/${commit}/${path}`;
    const bytes = this.files.get(key);
    if (!bytes) return this.notFound(res, 'EntryNotFound', `${path} does not exist on "${revision}"`);
    const common = { 'x-repo-commit': commit };
    if (this.linked.has(key)) {
      res
        .writeHead(302, {
          ...common,
          location: `${this.cdnUrl}/cdn/${encodeURIComponent(key)}?expires=1`,
          'x-linked-etag': `"${this.linkedOverride.get(key) ?? sha256(bytes)}"`,
          'x-linked-size': String(bytes.length),
          etag: `"${sha256(bytes)}"`,
        })
        .end();
      return;
    }
    this.serve(req, res, key, bytes, { ...common, etag: `"${gitBlobSha1(bytes)}"` });
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.cdnUrl);
    this.log(req, url);
    const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
    const key = cdn ? decodeURIComponent(cdn[1]!) : '';
    const bytes = this.files.get(key);
    if (!bytes) {
      res.writeHead(404).end();
      return;
    }
    this.serve(req, res, key, bytes, { etag: `"${createHash('md5').update(bytes).digest('hex')}"` });
  }

  /** The bytes of a file with Range + If-Range, HEAD, and the one-off cut of `cutAfter`. */
  private serve(req: IncomingMessage, res: ServerResponse, key: string, bytes: Buffer, headers: Record<string, string>): void {
    const etag = headers['etag']!;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === etag)) start = Number(range[1]);
    if (start >= bytes.length && start > 0) {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${bytes.length}` }).end();
      return;
    }
    const body = bytes.subarray(start);
    const out: Record<string, string> = { ...headers, 'accept-ranges': 'bytes', 'content-length': String(body.length), 'content-type': 'application/octet-stream' };
    if (start > 0) out['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(start > 0 ? 206 : 200, out);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
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
