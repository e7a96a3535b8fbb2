import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small provider on a loopback port for this package's tests:
 * - `POST /native/*`: Stripe-like, deduplicates on `Idempotency-Key` (replays the saved answer with
 *   `idempotent-replayed: true`; a different body under the same key gets a 400 idempotency_error);
 * - `POST /plain/*`: no native keys, every request creates `{ id, ...body }` (201);
 * - `GET /plain/lookup?ref=`: the first resource created with that `ref`, else 404;
 * - anything on `/echo`: `{ method, path, headers, body }`;
 * - anything on `/moved/<rest>`: `307` to `/plain/<rest>`.
 * `fault(kind)` makes the next committing write drop its connection or answer 500 after committing.
 */
export interface TestServer {
  url: string;
  writes(prefix?: string): number;
  received(): ReceivedRequest[];
  fault(kind: 'drop' | '500', times?: number): void;
  close(): Promise<void>;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

export async function startServer(): Promise<TestServer> {
  const writes: { path: string; resource: Record<string, unknown> }[] = [];
  const received: ReceivedRequest[] = [];
  const saved = new Map<string, { body: string; answer: string }>();
  const faults: ('drop' | '500')[] = [];

  function commit(res: ServerResponse, path: string, status: number, resource: Record<string, unknown>) {
    writes.push({ path, resource });
    const fault = faults.shift();
    if (fault === 'drop') return void res.socket?.destroy();
    if (fault === '500') return answer(res, 500, { error: 'internal' });
    answer(res, status, resource);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://test.local');
      received.push({ method, path: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders, body });
      if (url.pathname === '/echo')
        return answer(res, 200, { method, path: req.url, headers: req.headers, body });
      if (url.pathname.startsWith('/moved/')) {
        res.writeHead(307, { location: url.pathname.replace('/moved/', '/plain/'), 'content-length': 0 });
        return res.end();
      }
      if (method === 'GET' && url.pathname === '/plain/lookup') {
        const found = writes.find((w) => w.resource.ref === url.searchParams.get('ref'));
        return found ? answer(res, 200, found.resource) : answer(res, 404, { error: 'not_found' });
      }
      if (method !== 'POST') return answer(res, 404, { error: 'no_route' });
      const resource = { id: `res_${writes.length + 1}`, ...parse(body) };
      if (url.pathname.startsWith('/plain/')) return commit(res, url.pathname, 201, resource);
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string') return commit(res, url.pathname, 200, resource);
      const earlier = saved.get(key);
      if (earlier && earlier.body !== body) {
        return answer(res, 400, {
          error: {
            type: 'idempotency_error',
            message: 'Keys for idempotent requests can only be used with the same parameters',
          },
        });
      }
      if (earlier) return answer(res, 200, JSON.parse(earlier.answer), { 'idempotent-replayed': 'true' });
      saved.set(key, { body, answer: JSON.stringify(resource) });
      commit(res, url.pathname, 200, resource);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    writes: (prefix = '/') => writes.filter((w) => w.path.startsWith(prefix)).length,
    received: () => [...received],
    fault(kind, times = 1) {
      for (let i = 0; i < times; i++) faults.push(kind);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function parse(body: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : { value };
  } catch {
    return body === '' ? {} : { raw: body };
  }
}

function answer(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
