import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { CuratorError } from '@curator/contracts';
import type { ResolvedFile, ResolvedModel } from './resolve.ts';

export interface OpenRequest {
  model: ResolvedModel;
  file: ResolvedFile;
  /** Bytes already in the partial file; 0 for a fresh download. */
  start: number;
  /** Strong validator (ETag) the partial bytes were downloaded under. */
  validator?: string;
  signal?: AbortSignal;
}

export interface OpenedFile {
  body: Readable;
  /** Where `body` starts in the file: `start` when resuming, 0 when the source sends it whole. */
  offset: number;
  totalSize?: number;
  validator?: string;
  /** A sha256 the source vouches for (the Hub's X-Linked-Etag of LFS files). */
  sha256?: string;
  /** Where the bytes come from, for messages. */
  location: string;
}

export interface ModelFileSource {
  describe(model: ResolvedModel): string;
  open(request: OpenRequest): Promise<OpenedFile>;
}

/** fetch reports a failure as `fetch failed` or a dropped connection as `terminated`; its cause says why. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause && cause !== error.message ? `${error.message} (${cause})` : error.message;
}

function strongValidator(etag: string | null | undefined): string | undefined {
  return etag && !etag.startsWith('W/') ? etag : undefined;
}

const sha256Pattern = /^[0-9a-f]{64}$/;
const commitPattern = /^[0-9a-f]{40}$/;

// ---------- Hugging Face Hub ----------

export interface HubSourceOptions {
  endpoint: string;
  token?: string;
  maxRedirects?: number;
}

export function hubRepoOf(model: ResolvedModel): string {
  if (model.source.kind === 'hub') return model.source.repo;
  throw new CuratorError('model_missing', `${model.id} is a generated test model: it is written locally (CURATOR_MODELS=test), not pulled`);
}

export function hubSource(options: HubSourceOptions): ModelFileSource {
  const endpoint = new URL(options.endpoint);
  const maxRedirects = options.maxRedirects ?? 10;
  const urlOf = (model: ResolvedModel, file: ResolvedFile) =>
    new URL(`${endpoint.pathname.replace(/\/$/, '')}/${hubRepoOf(model)}/resolve/${encodeURIComponent(model.revision)}/${file.path.split('/').map(encodeURIComponent).join('/')}`, endpoint);
  const source: ModelFileSource = {
    describe: (model) => `${endpoint.origin}/${hubRepoOf(model)}@${model.revision}`,
    async open({ model, file, start, validator, signal }) {
      let url = urlOf(model, file);
      let linkedSha256: string | undefined;
      for (let hop = 0; hop <= maxRedirects; hop++) {
        const headers: Record<string, string> = { 'user-agent': 'curator-models' };
        // The token is for the Hub only: CDN hosts it redirects to must never see it.
        if (options.token && url.host === endpoint.host) headers['authorization'] = `Bearer ${options.token}`;
        if (start > 0 && validator) {
          headers['range'] = `bytes=${start}-`;
          headers['if-range'] = validator;
        }
        let response: Response;
        try {
          response = await fetch(url, { headers, redirect: 'manual', ...(signal ? { signal } : {}) });
        } catch (error) {
          throw new CuratorError('download_failed', `${url.origin}: ${describeError(error)}`, { cause: error, retryable: true });
        }
        // A revision pinned by commit sha must be served from that commit, whatever a mirror does.
        const commit = response.headers.get('x-repo-commit');
        if (commit && commitPattern.test(model.revision) && commit !== model.revision) {
          await response.body?.cancel();
          throw new CuratorError('download_failed', `${hubRepoOf(model)}/${file.path}: ${url.origin} served commit ${commit}, the manifest pins ${model.revision}`);
        }
        const linked = response.headers.get('x-linked-etag')?.replaceAll('"', '');
        if (linked && sha256Pattern.test(linked)) linkedSha256 = linked;
        const location = response.headers.get('location');
        if (response.status >= 300 && response.status < 400 && location) {
          await response.body?.cancel();
          url = new URL(location, url);
          continue;
        }
        const where = `${hubRepoOf(model)}@${model.revision}/${file.path}`;
        if (response.status === 200 || response.status === 206) {
          let offset = 0;
          let totalSize = Number(response.headers.get('content-length') ?? Number.NaN);
          if (response.status === 206) {
            const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
            if (!range || Number(range[1]) !== start) {
              await response.body?.cancel();
              throw new CuratorError('download_failed', `${where}: the server answered a range other than bytes=${start}-`, { retryable: true });
            }
            offset = start;
            totalSize = range[3] === '*' ? Number.NaN : Number(range[3]);
          }
          if (!response.body) throw new CuratorError('download_failed', `${where}: empty response`, { retryable: true });
          const opened: OpenedFile = { body: Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), offset, location: url.origin };
          if (Number.isFinite(totalSize)) opened.totalSize = totalSize;
          const etag = strongValidator(response.headers.get('etag'));
          if (etag) opened.validator = etag;
          if (linkedSha256) opened.sha256 = linkedSha256;
          return opened;
        }
        await response.body?.cancel();
        // The partial file already holds every byte (a crash before the rename): fetch it whole again.
        if (response.status === 416 && start > 0) return source.open({ model, file, start: 0, ...(signal ? { signal } : {}) });
        if (response.status === 401 || response.status === 403) {
          throw new CuratorError('download_failed', `${where}: the Hub refused access (${response.status}); set HF_TOKEN for gated or private repos`);
        }
        if (response.status === 404) throw new CuratorError('download_failed', `${where}: not found (404); check the repo, revision and file name`);
        throw new CuratorError('download_failed', `${where}: HTTP ${response.status}`, { retryable: response.status >= 500 || response.status === 429 || response.status === 416 });
      }
      throw new CuratorError('download_failed', `${file.path}: more than ${maxRedirects} redirects`);
    },
  };
  return source;
}

// ---------- S3 ----------

export interface S3SourceOptions {
  /** `s3://bucket/prefix`: objects are `<prefix>/<model-id>/<file>`. */
  url: string;
  client?: S3Client;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match?.[1]) throw new CuratorError('validation_failed', `${url} is not an s3://bucket/prefix URL`);
  return { bucket: match[1], prefix: (match[2] ?? '').replace(/\/+$/, '') };
}

export function s3Source(options: S3SourceOptions): ModelFileSource {
  const { bucket, prefix } = parseS3Url(options.url);
  const client =
    options.client ??
    new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // S3-compatible stores (MinIO, s3rver, Garage) reject or lack the newer default checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  const keyOf = (model: ResolvedModel, file: ResolvedFile) => [prefix, model.id, file.path].filter(Boolean).join('/');
  const get = async (key: string, start: number, validator: string | undefined, signal: AbortSignal | undefined) => {
    const resume = start > 0 && validator !== undefined;
    const command = new GetObjectCommand({ Bucket: bucket, Key: key, ...(resume ? { Range: `bytes=${start}-`, IfMatch: validator } : {}) });
    return { response: await client.send(command, signal ? { abortSignal: signal } : {}), resumed: resume };
  };
  return {
    describe: () => `s3://${bucket}/${prefix}`,
    async open({ model, file, start, validator, signal }) {
      const key = keyOf(model, file);
      let got;
      try {
        try {
          got = await get(key, start, validator, signal);
          // Stores that ignore If-Match (s3rver, some gateways) still name the object's current ETag.
          if (got.resumed && got.response.ETag !== validator) {
            (got.response.Body as Readable | undefined)?.destroy();
            got = await get(key, 0, undefined, signal);
          }
        } catch (error) {
          // The object changed since the partial bytes were fetched: start over.
          if (error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 412 || error.$metadata.httpStatusCode === 416)) got = await get(key, 0, undefined, signal);
          else throw error;
        }
      } catch (error) {
        const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
        if (status === 404 || (error as Error).name === 'NoSuchKey') {
          throw new CuratorError('download_failed', `s3://${bucket}/${key}: not found`);
        }
        throw new CuratorError('download_failed', `s3://${bucket}/${key}: ${(error as Error).message}`, { cause: error, retryable: status === undefined || status >= 500 });
      }
      const { response, resumed } = got;
      if (!(response.Body instanceof Readable)) throw new CuratorError('download_failed', `s3://${bucket}/${key}: no body`, { retryable: true });
      let offset = 0;
      let totalSize = response.ContentLength;
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.ContentRange ?? '');
      if (resumed && range) {
        offset = Number(range[1]);
        totalSize = Number(range[3]);
      }
      const opened: OpenedFile = { body: response.Body, offset, location: `s3://${bucket}/${key}` };
      if (totalSize !== undefined) opened.totalSize = totalSize;
      const etag = strongValidator(response.ETag);
      if (etag) opened.validator = etag;
      return opened;
    },
  };
}

// ---------- a local folder ----------

/** A folder laid out like MODELS_DIR: `<dir>/<model-id>/<file>`. */
export function directorySource(root: string): ModelFileSource {
  const base = resolvePath(root);
  return {
    describe: () => base,
    async open({ model, file, start, validator }) {
      const path = join(base, ...model.id.split('/'), ...file.path.split('/'));
      let info;
      try {
        info = await stat(path);
      } catch {
        throw new CuratorError('download_failed', `${path}: not found`);
      }
      const current = `"${info.size}-${info.mtimeMs}"`;
      const offset = start > 0 && validator === current && start <= info.size ? start : 0;
      return { body: createReadStream(path, { start: offset }), offset, totalSize: info.size, validator: current, location: path };
    },
  };
}

export function sourceFor(from: string, options: { hub: HubSourceOptions; s3?: Omit<S3SourceOptions, 'url'> }): ModelFileSource {
  if (from === 'hub') return hubSource(options.hub);
  if (from.startsWith('s3://')) return s3Source({ ...options.s3, url: from });
  if (/^https?:\/\//.test(from)) return hubSource({ ...options.hub, endpoint: from });
  return directorySource(from);
}
