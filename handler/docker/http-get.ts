import * as net from 'node:net';

// GET (and a JSON POST) over a unix socket or TCP, HTTP/1.0 with Connection: close: the answer is the whole stream
// until dockerd closes it (Go's server never chunks a 1.0 answer). node:http would do the same at
// the cost of its parser and agent machinery, resident for weeks in the monitor.

export interface HttpResult {
  status?: number;
  body: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  error?: string;
}

const MAX_BYTES = 256 * 1024;

export function httpGet(target: { socketPath?: string; host?: string; port?: number; path: string }, timeoutMs: number): Promise<HttpResult> {
  return httpRequest(target, timeoutMs);
}

/** POST of a JSON body (dockerd's /auth); the body may hold a secret and is never logged here. */
export function httpPostJson(target: { socketPath?: string; host?: string; port?: number; path: string }, body: unknown, timeoutMs: number): Promise<HttpResult> {
  return httpRequest(target, timeoutMs, { method: 'POST', body: Buffer.from(JSON.stringify(body)) });
}

function httpRequest(target: { socketPath?: string; host?: string; port?: number; path: string }, timeoutMs: number, req: { method: string; body: Buffer } = { method: 'GET', body: Buffer.alloc(0) }): Promise<HttpResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (r: HttpResult) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(r);
    };
    const sock = target.socketPath !== undefined ? net.createConnection(target.socketPath) : net.createConnection(target.port ?? 80, target.host);
    sock.setTimeout(timeoutMs, () => done({ body: '', headers: {}, error: `no answer within ${timeoutMs} ms` }));
    const head = req.method === 'GET' ? '' : `Content-Type: application/json\r\nContent-Length: ${req.body.length}\r\n`;
    sock.once('connect', () => sock.write(Buffer.concat([Buffer.from(`${req.method} ${target.path} HTTP/1.0\r\nHost: docker\r\nConnection: close\r\n${head}\r\n`), req.body])));
    sock.on('data', (b: Buffer) => {
      if (size < MAX_BYTES) chunks.push(b);
      size += b.length;
    });
    sock.once('end', () => done(parseResponse(Buffer.concat(chunks).toString('latin1'))));
    sock.once('error', (e: NodeJS.ErrnoException) => done({ body: '', headers: {}, error: e.code ? `${e.code}: ${e.message}` : e.message }));
  });
}

/** Status line, headers and body of a whole HTTP/1.x answer; an answer that is not HTTP is an error. */
export function parseResponse(text: string): HttpResult {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(text);
  if (!m) return { body: '', headers: {}, error: text === '' ? 'connection closed without an answer' : 'not an HTTP answer' };
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = end < 0 ? '' : Buffer.from(text.slice(end + 4), 'latin1').toString('utf8');
  return { status: Number(m[1]), body, headers };
}
