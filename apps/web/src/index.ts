// The Node side of the web studio: where its build is, building it when missing or out of date, and
// the headers it must be served with. The gateway's web plugin and `npm start` call these; the
// browser code lives in ../ui and is built by Vite into ../dist.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** apps/web */
export const webRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** The built studio: what the gateway serves at `/`. */
export const webDistDir = join(webRoot, 'dist');
const builtIndex = join(webDistDir, 'index.html');

/** What the bundle is made of: the studio's sources and the workspace packages it bundles. */
const sourcePaths = [
  join(webRoot, 'ui'),
  join(webRoot, 'public'),
  join(webRoot, 'index.html'),
  join(webRoot, 'vite.config.ts'),
  join(webRoot, 'package.json'),
  resolve(webRoot, '../../packages/client/src'),
  resolve(webRoot, '../../packages/contracts/src'),
];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

export type WebBuildState = 'fresh' | 'missing' | 'stale';

/**
 * `missing`: no build; `stale`: a source is newer than the build (a checkout being worked on);
 * `fresh` otherwise, including an installation that ships the build without its sources.
 */
export function webBuildState(): WebBuildState {
  if (!existsSync(builtIndex)) return 'missing';
  const built = statSync(builtIndex).mtimeMs;
  return sourcePaths.some((path) => newestMtime(path) > built) ? 'stale' : 'fresh';
}

/** Vite's command-line script, or null where it is not installed (a production image ships the build instead). */
function viteScript(): string | null {
  try {
    return join(dirname(fileURLToPath(import.meta.resolve('vite/package.json'))), 'bin', 'vite.js');
  } catch {
    return null;
  }
}

export interface EnsureWebBuildOptions {
  /** Each line Vite prints while it builds (the build takes a few seconds). */
  onProgress?: (line: string) => void;
  /** Rebuild a stale build too (default true); false builds only a missing one. */
  rebuildStale?: boolean;
}

/**
 * Builds the studio when it has no build (or an out-of-date one), in a child process running Vite,
 * so `npm start` and CI serve it without a separate step. Resolves with the folder to serve.
 */
export async function ensureWebBuild(options: EnsureWebBuildOptions = {}): Promise<{ dir: string; built: boolean }> {
  const state = webBuildState();
  if (state === 'fresh' || (state === 'stale' && options.rebuildStale === false)) return { dir: webDistDir, built: false };
  const script = viteScript();
  if (!script) {
    if (state === 'stale') return { dir: webDistDir, built: false };
    throw new Error(`The web studio is not built (${webDistDir} is missing) and Vite is not installed here: run \`npm run build\` where the development dependencies are installed and ship apps/web/dist.`);
  }
  // Built aside and moved into place, so a server reading dist (or another process building it at the
  // same time: two test files, two gateways) never sees a half-written build.
  const staging = join(webRoot, `.dist-${process.pid}-${Date.now()}`);
  try {
    await runVite(script, staging, options.onProgress);
    if (!existsSync(join(staging, 'index.html'))) throw new Error(`Vite finished without writing ${join(staging, 'index.html')}`);
    const old = `${staging}-old`;
    await rename(webDistDir, old).catch(() => undefined);
    await rename(staging, webDistDir);
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { dir: webDistDir, built: true };
}

function runVite(script: string, outDir: string, onProgress: ((line: string) => void) | undefined): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'info'], { cwd: webRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    let partial = '';
    const onData = (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        if (line.trim()) onProgress?.(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`Building the web studio failed (vite exited with ${code}):\n${output.slice(-30).join('\n')}${partial}`));
    });
  });
}

export interface StudioHeadersOptions {
  /**
   * Origins the card pictures come from: the S3 endpoint in presigned URLs (S3_PUBLIC_ENDPOINT, else
   * S3_ENDPOINT), e.g. `http://localhost:4569`. Empty: pictures from the page's own origin only.
   */
  imageOrigins?: readonly string[];
}

/** An origin as a CSP source: scheme, host and port of a URL, nothing else (a path would be a policy hole). */
function cspOrigin(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`Not an http(s) origin: ${url}`);
  return parsed.origin;
}

/**
 * The studio's Content-Security-Policy: its own scripts, styles and API only; no inline script or
 * style, no eval, no plugins, not framable. Pictures also from the image origins.
 */
export function studioContentSecurityPolicy(options: StudioHeadersOptions = {}): string {
  const images = ["'self'", ...new Set((options.imageOrigins ?? []).map(cspOrigin))];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${images.join(' ')}`,
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "require-trusted-types-for 'script'",
  ].join('; ');
}

/**
 * Hashed build files (`/assets/name-<hash>.js`) never change: cached for a year. Everything else
 * (index.html, the icon) is revalidated on every load, so a new build shows at once.
 */
export function studioCacheControl(urlPath: string): string {
  return urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/** Every header a studio file is served with, besides its type and validators. */
export function studioHeaders(urlPath: string, options: StudioHeadersOptions = {}): Record<string, string> {
  return {
    'cache-control': studioCacheControl(urlPath),
    'content-security-policy': studioContentSecurityPolicy(options),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  };
}
