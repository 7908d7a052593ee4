// Serves the built studio the way the gateway will (same files, same headers: studioHeaders) and
// passes the API's paths on to a real gateway, so the page and the API share one origin as they do
// when the gateway serves the studio itself.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { studioHeaders, type StudioHeadersOptions } from '../../src/index.ts';

const apiPaths = /^\/(jobs|workers|healthz|readyz|docs|metrics)(\/|\?|$)/;
const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

export interface StudioServer {
  url: string;
  close(): Promise<void>;
}

function passOn(gateway: URL, request: IncomingMessage, response: ServerResponse): void {
  const upstream = httpRequest(
    { host: gateway.hostname, port: gateway.port, method: request.method, path: request.url, headers: { ...request.headers, host: gateway.host } },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.once('error', () => response.destroy());
  // A reader that leaves (a closed event stream) closes the gateway's side too.
  response.once('close', () => upstream.destroy());
  request.pipe(upstream);
}

async function serveFile(distDir: string, path: string, headerOptions: StudioHeadersOptions, response: ServerResponse): Promise<void> {
  const file = normalize(join(distDir, path === '/' ? 'index.html' : decodeURIComponent(path)));
  if (!file.startsWith(distDir + sep)) return void response.writeHead(404).end();
  try {
    const body = await readFile(file);
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', ...studioHeaders(path, headerOptions) });
    response.end(body);
  } catch {
    response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: `No file ${path}` } }));
  }
}

export async function startStudioServer(options: { distDir: string; gatewayUrl: string } & StudioHeadersOptions): Promise<StudioServer> {
  const gateway = new URL(options.gatewayUrl);
  const server = createServer((request, response) => {
    const url = request.url ?? '/';
    if (apiPaths.test(url)) return passOn(gateway, request, response);
    if (request.method !== 'GET' && request.method !== 'HEAD') return void response.writeHead(405).end();
    void serveFile(options.distDir, url.split('?')[0]!, options, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
