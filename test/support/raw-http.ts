// HTTP/1.1 over a plain socket, for requests no well-behaved client would send: invalid bytes in the
// path, headers of any size, bodies that lie about their type. Every request has a deadline; a server
// that answers nothing in time is reported as such (a hang), never waited on forever.
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawRequest {
  method: string;
  /** The request target exactly as sent (it may hold bytes no URL allows). */
  target: string | Buffer;
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: Buffer;
}

/** The request's bytes; adds Host, Connection: close and Content-Length (of the body) unless given. */
export function encodeRequest(request: RawRequest, host: string): Buffer {
  const headers = [...(request.headers ?? [])];
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  if (!has('host')) headers.unshift(['host', host]);
  if (!has('connection')) headers.push(['connection', 'close']);
  if (request.body && !has('content-length')) headers.push(['content-length', String(request.body.length)]);
  const head = Buffer.concat([
    Buffer.from(`${request.method} `, 'latin1'),
    typeof request.target === 'string' ? Buffer.from(request.target, 'latin1') : request.target,
    Buffer.from(` HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}`).join('\r\n')}\r\n\r\n`, 'latin1'),
  ]);
  return request.body ? Buffer.concat([head, request.body]) : head;
}

/** Parses one response from `data`; null while it is incomplete (`ended`: no more bytes will come). */
function parseResponse(data: Buffer, ended: boolean): RawResponse | null {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine, ...lines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
  if (!Number.isInteger(status)) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(headEnd + 4);
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    return rest.length >= length ? { status, headers, body: rest.subarray(0, length) } : ended ? { status, headers, body: rest } : null;
  }
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const chunks: Buffer[] = [];
    let at = 0;
    while (true) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return ended ? { status, headers, body: Buffer.concat(chunks) } : null;
      const size = parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0) return { status, headers, body: Buffer.concat(chunks) };
      if (rest.length < lineEnd + 2 + size + 2) return ended ? { status, headers, body: Buffer.concat(chunks) } : null;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  return ended || status === 204 || status === 304 ? { status, headers, body: rest } : null;
}

export class NoResponseError extends Error {}

/** Sends the request and resolves with the first response; rejects with NoResponseError when none came within `timeoutMs`. */
export function rawRequest(port: number, request: RawRequest, timeoutMs: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    let settled = false;
    let socketError: Error | null = null;
    const finish = (ended: boolean) => {
      if (settled) return;
      let response: RawResponse | null;
      try {
        response = parseResponse(Buffer.concat(received), ended);
      } catch (error) {
        settled = true;
        socket.destroy();
        reject(error);
        return;
      }
      if (response) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(response);
      } else if (ended) {
        settled = true;
        clearTimeout(timer);
        reject(new NoResponseError(`the connection closed without a response${socketError ? ` (${socketError.message})` : ''}`));
      }
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new NoResponseError(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => {
      received.push(chunk);
      finish(false);
    });
    // A server may refuse before reading everything (headers too large) and reset the connection;
    // what it answered before that still counts.
    socket.on('error', (error) => (socketError = error));
    socket.on('close', () => finish(true));
    // write, not end: a half-closed connection may be dropped before it is answered.
    socket.on('connect', () => socket.write(encodeRequest(request, `127.0.0.1:${port}`)));
  });
}
