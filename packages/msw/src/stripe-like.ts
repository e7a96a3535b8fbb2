import { HttpResponse, http } from 'msw';
import type { Emulator, Written } from './emulator.js';
import { type FaultRates, faultPlan, type WriteRequest } from './faults.js';
import { durationMs, json, normaliseBase, parseBody, readBody, WRITE_METHODS } from './http.js';
import { statsRecorder } from './stats.js';

export interface StripeLikeOptions {
  /** e.g. `'https://api.stripe.com'`; every path under it is emulated. */
  baseUrl: string;
  /** How long a key is remembered after its first use. Default `'24h'`. */
  retention?: number | string | undefined;
  faults?: FaultRates | undefined;
  /** Source of randomness for fault rates (default `Math.random`): pass a seeded one for reproducible runs. */
  random?: (() => number) | undefined;
  /** Clock for retention (default `Date.now`). */
  now?: (() => number) | undefined;
  /** Body fields every write must carry, else `400 invalid_request_error` (not saved). Default none. */
  requiredFields?: string[] | undefined;
  /**
   * Awaited after a keyed write reserved its key and before it commits: the key is "in flight"
   * until it resolves. Lets a test hold a request open deterministically.
   */
  beforeCommit?: ((write: { path: string; key: string | undefined }) => Promise<void> | void) | undefined;
}

/** Same bodies as Stripe (and the conformance suite's fake server). */
export const KEY_IN_USE = {
  error: {
    code: 'idempotency_key_in_use',
    type: 'idempotency_error',
    message: 'There is currently another in-progress request using this Idempotent Key.',
  },
};
export const KEY_MISMATCH = {
  error: {
    type: 'idempotency_error',
    message:
      'Keys for idempotent requests can only be used with the same parameters they were first used with.',
  },
};

interface KeyEntry {
  signature: string;
  firstUsedAt: number;
  /** Absent while the first request runs. */
  saved?: { status: number; body: unknown };
}

/**
 * A Stripe-like API: `Idempotency-Key` header; first use runs and saves `200 { id, object, ...body }`;
 * a finished key replays it with `Idempotent-Replayed: true`; a running key answers 409
 * `idempotency_key_in_use`; other parameters answer 400 `idempotency_error`. Writes without a key are
 * never deduplicated. `GET <baseUrl>/.../<id>` retrieves a created resource.
 */
export function stripeLike(options: StripeLikeOptions): Emulator {
  const base = normaliseBase(options.baseUrl);
  const retentionMs = durationMs(options.retention ?? '24h', 'retention');
  const now = options.now ?? Date.now;
  const faults = faultPlan(options.faults, options.random);
  const stats = statsRecorder();
  const required = options.requiredFields ?? [];
  let written: Written[] = [];
  let keys = new Map<string, KeyEntry>();
  let counter = 0;

  function commit(path: string, key: string | undefined, body: Record<string, unknown>) {
    const resource = { id: `obj_${++counter}`, object: path.split('/').pop(), ...body };
    written.push({ path, key, resource });
    stats.count('writes', key);
    return resource;
  }

  /** After the write: the answer, unless a fault loses it or turns it into a 500. */
  function answer(resource: unknown, write: WriteRequest, headers: Record<string, string>) {
    if (faults.take('dropAfterCommit', write)) {
      stats.count('dropped');
      return HttpResponse.error();
    }
    if (faults.take('error5xxAfterCommit', write)) {
      stats.count('errors5xx');
      return json(500, { error: { type: 'api_error', message: 'internal' } });
    }
    return json(200, resource, headers);
  }

  /** The live entry for a key (one past its retention is forgotten, as the provider prunes it). */
  function entryFor(key: string): KeyEntry | undefined {
    const entry = keys.get(key);
    if (entry && now() - entry.firstUsedAt >= retentionMs) keys.delete(key);
    return keys.get(key);
  }

  async function write(request: Request, path: string) {
    const { text, bytes } = await readBody(request);
    const key = request.headers.get('idempotency-key') ?? undefined;
    const body = parseBody(text, request.headers.get('content-type'));
    const incoming = { method: request.method, path, key, body };
    if (faults.take('error5xxBeforeCommit', incoming)) {
      stats.count('errors5xx');
      return json(503, { error: 'unavailable' });
    }
    if (key !== undefined && faults.take('keyInUse', incoming)) {
      stats.count('inUse', key);
      return json(409, KEY_IN_USE);
    }
    // Parameters are compared as bytes: two bodies that decode to the same text are still different.
    const signature = `${request.method} ${path} ${bytes}`;
    const entry = key === undefined ? undefined : entryFor(key);
    if (key !== undefined && entry) {
      if (entry.signature !== signature) {
        stats.count('mismatches', key);
        return json(400, KEY_MISMATCH);
      }
      if (!entry.saved) {
        stats.count('inUse', key);
        return json(409, KEY_IN_USE);
      }
      stats.count('replays', key);
      return json(entry.saved.status, entry.saved.body, {
        'idempotent-replayed': 'true',
        'idempotency-key': key,
      });
    }
    const missing = required.find((field) => body[field] === undefined);
    if (missing !== undefined) {
      // Validation runs before the endpoint: nothing is saved under the key.
      stats.count('invalid');
      return json(400, {
        error: {
          type: 'invalid_request_error',
          code: 'parameter_missing',
          param: missing,
          message: `Missing required param: ${missing}.`,
        },
      });
    }
    const mine: KeyEntry = { signature, firstUsedAt: now() };
    if (key !== undefined) keys.set(key, mine);
    await faults.latency(incoming);
    await options.beforeCommit?.({ path, key });
    const resource = commit(path, key, body);
    mine.saved = { status: 200, body: resource };
    return answer(resource, incoming, key === undefined ? {} : { 'idempotency-key': key });
  }

  function retrieve(path: string) {
    const id = path.split('/').pop();
    const found = written.find((w) => w.resource.id === id);
    return found
      ? json(200, found.resource)
      : json(404, { error: { type: 'invalid_request_error', message: `No such object: '${id}'` } });
  }

  const handlers = [
    http.all(`${base}/*`, async ({ request }) => {
      const path = new URL(request.url).pathname;
      if (WRITE_METHODS.has(request.method)) return write(request, path);
      if (request.method === 'GET') return retrieve(path);
      return json(405, { error: { type: 'invalid_request_error', message: 'method not allowed' } });
    }),
  ];

  return {
    handlers,
    stats: () => stats.snapshot(),
    written: () => written.map((w) => ({ ...w, resource: { ...w.resource } })),
    inject: (counts) => faults.inject(counts),
    reset() {
      written = [];
      counter = 0;
      keys = new Map();
      stats.reset();
      faults.reset();
    },
  };
}
