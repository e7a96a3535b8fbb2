import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A real HTTP server on a free loopback port that counts writes and injects faults.
 *
 * Semantics (the MSW handlers `stripeLike` / `plainApi` of `@oncely/msw` must match them):
 *
 * - `POST|PUT|PATCH|DELETE /native/<anything>`: a Stripe-like API with native idempotency.
 *   - Without an `Idempotency-Key` header: creates a resource (as below), no deduplication.
 *   - First use of a key: the key is "in flight" while the request runs (including `delayMs`),
 *     then the write is committed and the response `200 { id, object, ...body }` is saved for
 *     the key (`object` = last path segment).
 *   - Same key, same method + path + body bytes, first one finished: replays the saved status and
 *     body with header `Idempotent-Replayed: true`. Not a write.
 *   - Same key while the first is in flight: `409 {"error":{"code":"idempotency_key_in_use",...}}`.
 *   - Same key, different method/path/body: `400 {"error":{"type":"idempotency_error","message":
 *     "Keys for idempotent requests can only be used with the same parameters they were first used with."}}`.
 * - `POST|PUT|PATCH|DELETE /plain/<anything>`: no native keys; every request creates
 *   `{ id, ref, ...body }` (`ref` = `body.ref`) and answers `201`.
 * - `GET /plain/lookup?ref=<ref>`: `200` with the first resource created under `/plain/` whose
 *   `ref` equals it, else `404 {"error":"not_found"}`. For reconcile hooks.
 * - any method on `/echo`: `200 { method, path, headers, body }` (body as UTF-8 text).
 * - anything else: `404`.
 *
 * Bodies are parsed as JSON (`application/json`), form (`application/x-www-form-urlencoded`),
 * else kept as `{ raw: text }`; they are spread into the created resource.
 *
 * Faults (`inject(pathPrefix, faults)`, counted per injected entry; `n` = how many upcoming
 * matching requests get the fault):
 * - `error503BeforeCommit: n`: answer `503` before anything is recorded (any method). Not a write.
 * - `inUseForever: true`: every keyed write under the prefix answers the 409 "key in use" (no write).
 * - `delayMs`: every write under the prefix waits this long before committing (the key stays in flight).
 * - `dropAfterCommit: n`: the write is committed (and saved for its key), then the socket is
 *   destroyed without a response. Applies to committing requests only, not to replays.
 * - `error5xxAfterCommit: n`: the write is committed, then `500` is answered; a native key keeps
 *   the successful response, so a retry with the same key replays the `200`.
 */
export interface Faults {
  dropAfterCommit?: number;
  error5xxAfterCommit?: number;
  error503BeforeCommit?: number;
  delayMs?: number;
  inUseForever?: boolean;
}

export interface ReceivedRequest {
  method: string;
  /** Path and query string, as received. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Header names and values exactly as sent (alternating). */
  rawHeaders: string[];
  body: Buffer;
}

export interface Write {
  path: string;
  resource: Record<string, unknown>;
}

export interface FakeServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  inject(pathPrefix: string, faults: Faults): void;
  /** Committed writes, optionally only those whose path starts with `pathPrefix`. */
  writes(pathPrefix?: string): number;
  /** The committed writes themselves. */
  written(pathPrefix?: string): Write[];
  /** Every request received, in arrival order (faulted ones included). */
  requests(): ReceivedRequest[];
  /** Forgets writes, keys, requests and faults. */
  reset(): void;
  close(): Promise<void>;
}

interface KeyEntry {
  signature: string;
  saved?: { status: number; body: string };
}

interface FaultEntry {
  prefix: string;
  faults: Faults;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const KEY_IN_USE = {
  error: {
    code: 'idempotency_key_in_use',
    type: 'idempotency_error',
    message: 'There is currently another in-progress request using this Idempotent Key.',
  },
};
const KEY_MISMATCH = {
  error: {
    type: 'idempotency_error',
    message:
      'Keys for idempotent requests can only be used with the same parameters they were first used with.',
  },
};

export async function startFakeServer(): Promise<FakeServer> {
  let writes: Write[] = [];
  let received: ReceivedRequest[] = [];
  let keys = new Map<string, KeyEntry>();
  let faults: FaultEntry[] = [];
  let counter = 0;

  /** Consumes one unit of a counted fault for this path; true when the request gets it. */
  function take(path: string, kind: 'dropAfterCommit' | 'error5xxAfterCommit' | 'error503BeforeCommit') {
    const entry = faults.find((f) => path.startsWith(f.prefix) && (f.faults[kind] ?? 0) > 0);
    if (!entry) return false;
    entry.faults[kind] = (entry.faults[kind] ?? 0) - 1;
    return true;
  }
  const flag = (path: string, kind: 'inUseForever') =>
    faults.some((f) => path.startsWith(f.prefix) && f.faults[kind] === true);
  const delayFor = (path: string) =>
    faults.find((f) => path.startsWith(f.prefix) && f.faults.delayMs !== undefined)?.faults.delayMs ?? 0;

  function commit(path: string, resource: Record<string, unknown>) {
    writes.push({ path, resource });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake.local');
    const path = url.pathname;
    if (take(path, 'error503BeforeCommit')) return json(res, 503, { error: 'unavailable' });
    if (path === '/echo') {
      const echo = { method, path: req.url, headers: req.headers, body: body.toString('utf8') };
      return json(res, 200, echo);
    }
    if (method === 'GET' && path === '/plain/lookup') {
      const ref = url.searchParams.get('ref');
      const found = writes.find((w) => w.path.startsWith('/plain/') && w.resource.ref === ref);
      return found ? json(res, 200, found.resource) : json(res, 404, { error: 'not_found' });
    }
    if (!WRITE_METHODS.has(method)) return json(res, 404, { error: 'no_route' });
    const parsed = parseBody(body, req.headers['content-type']);
    if (path.startsWith('/native/')) return native(req, res, method, path, body, parsed);
    if (path.startsWith('/plain/')) {
      await sleep(delayFor(path));
      const resource = { id: `res_${++counter}`, ref: parsed.ref, ...parsed };
      commit(path, resource);
      return answerAfterCommit(res, path, 201, resource);
    }
    return json(res, 404, { error: 'no_route' });
  }

  async function native(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    body: Buffer,
    parsed: Record<string, unknown>,
  ) {
    const key = single(req.headers['idempotency-key']);
    const create = () => ({ id: `obj_${++counter}`, object: path.split('/').pop(), ...parsed });
    if (key === undefined) {
      await sleep(delayFor(path));
      const resource = create();
      commit(path, resource);
      return answerAfterCommit(res, path, 200, resource);
    }
    if (flag(path, 'inUseForever')) return json(res, 409, KEY_IN_USE);
    const signature = `${method} ${path} ${body.toString('base64')}`;
    const entry = keys.get(key);
    if (entry) {
      if (entry.signature !== signature) return json(res, 400, KEY_MISMATCH);
      if (!entry.saved) return json(res, 409, KEY_IN_USE);
      return send(res, entry.saved.status, entry.saved.body, {
        'idempotent-replayed': 'true',
        'idempotency-key': key,
      });
    }
    const mine: KeyEntry = { signature };
    keys.set(key, mine);
    await sleep(delayFor(path));
    const resource = create();
    commit(path, resource);
    mine.saved = { status: 200, body: JSON.stringify(resource) };
    return answerAfterCommit(res, path, 200, resource, { 'idempotency-key': key });
  }

  function answerAfterCommit(
    res: ServerResponse,
    path: string,
    status: number,
    resource: unknown,
    headers: Record<string, string> = {},
  ) {
    if (take(path, 'dropAfterCommit')) return void res.socket?.destroy();
    if (take(path, 'error5xxAfterCommit')) return json(res, 500, { error: 'internal' });
    return json(res, status, resource, headers);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      handle(req, res, body).catch((error: unknown) => {
        if (!res.headersSent) json(res, 500, { error: String(error) });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    inject(prefix, injected) {
      faults.push({ prefix, faults: { ...injected } });
    },
    writes: (prefix = '/') => writes.filter((w) => w.path.startsWith(prefix)).length,
    written: (prefix = '/') => writes.filter((w) => w.path.startsWith(prefix)),
    requests: () => [...received],
    reset() {
      writes = [];
      received = [];
      keys = new Map();
      faults = [];
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}

function parseBody(body: Buffer, contentType: string | undefined): Record<string, unknown> {
  const text = body.toString('utf8');
  if (text === '') return {};
  try {
    if (contentType?.includes('json')) {
      const value: unknown = JSON.parse(text);
      return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : { value };
    }
    if (contentType?.includes('x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  } catch {
    // Not what the content type claims: keep the raw text.
  }
  return { raw: text };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  send(res, status, JSON.stringify(value), headers);
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string>) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'request-id': `req_${randomUUID()}`,
    ...headers,
  });
  res.end(body);
}
