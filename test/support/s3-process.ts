// An S3 protocol server in a child process (test/support/s3-server-main.ts) on a fixed port, so a
// test can stop it for a while and bring it back at the same address with the same objects.
import { mkdir } from 'node:fs/promises';
import { embeddedS3Credentials } from '@curator/embedded-s3';
import { run, type Running } from './processes.ts';
import { freePort } from './ports.ts';

export interface S3Object {
  key: string;
  bytes: number;
}

export interface S3Process {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  start(): Promise<void>;
  stop(): Promise<void>;
  running(): boolean;
  /** Objects whose key starts with `prefix` (ListObjectsV2; the embedded server serves unsigned requests). */
  list(prefix: string): Promise<S3Object[]>;
  /** How many PUTs of each object key were answered 200, over every run of the server. */
  puts(): Map<string, number>;
}

function decodeXml(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

export async function startS3Process(options: { dir: string; bucket: string; port?: number }): Promise<S3Process> {
  const port = options.port ?? (await freePort());
  await mkdir(options.dir, { recursive: true });
  const endpoint = `http://127.0.0.1:${port}`;
  const runs: Running[] = [];
  let current: Running | null = null;

  const s3: S3Process = {
    endpoint,
    bucket: options.bucket,
    credentials: { ...embeddedS3Credentials },
    async start() {
      if (current) throw new Error(`the S3 server on ${port} is already running`);
      const started = run('test/support/s3-server-main.ts', [options.dir, String(port), options.bucket], {});
      runs.push(started);
      current = started;
      started.child.once('exit', () => {
        if (current === started) current = null;
      });
      await started.waitForLog((e) => e.msg === 's3 listening');
    },
    async stop() {
      const stopping = current;
      if (!stopping) return;
      await stopping.stop();
      current = null;
    },
    running: () => current !== null,
    async list(prefix) {
      const objects: S3Object[] = [];
      let token: string | undefined;
      do {
        const query = new URLSearchParams({ 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) });
        const res = await fetch(`${endpoint}/${options.bucket}?${query}`, { signal: AbortSignal.timeout(10_000) });
        const xml = await res.text();
        if (res.status !== 200) throw new Error(`listing ${prefix} answered ${res.status}: ${xml}`);
        for (const match of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
          const key = /<Key>([\s\S]*?)<\/Key>/.exec(match[1]!)?.[1];
          const size = /<Size>(\d+)<\/Size>/.exec(match[1]!)?.[1];
          if (key !== undefined && size !== undefined) objects.push({ key: decodeXml(key), bytes: Number(size) });
        }
        token = /<IsTruncated>true<\/IsTruncated>/.test(xml) ? /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml)?.[1] : undefined;
      } while (token);
      return objects;
    },
    puts() {
      const counts = new Map<string, number>();
      const bucketPath = `/${options.bucket}/`;
      for (const started of runs) {
        for (const line of started.lines) {
          if (!line.includes('"s3 request"')) continue;
          const entry = JSON.parse(line) as { method: string; path: string; status: number };
          if (entry.method !== 'PUT' || entry.status !== 200 || !entry.path.startsWith(bucketPath)) continue;
          const key = decodeURIComponent(entry.path.slice(bucketPath.length));
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      return counts;
    },
  };
  await s3.start();
  return s3;
}
