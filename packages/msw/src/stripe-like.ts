import { http } from 'msw';
import { type Emulator, type EmulatorOptions, emulatorOver, instrument, type Written } from './emulator.js';
import type { WriteRequest } from './faults.js';
import { durationMs, json, normaliseBase, parseBody, readBody, WRITE_METHODS } from './http.js';
import { statsRecorder } from './stats.js';

export interface StripeLikeOptions extends EmulatorOptions {
  /** How long a key is remembered after its first use. Default `'24h'`. */
  retention?: number | string | undefined;
  /** A write without `Idempotency-Key` answers `400` and does not run (default: it runs, undeduplicated). */
  requireKey?: boolean | undefined;
  /**
   * The key lookup runs before the pre-commit faults (`error5xxBeforeCommit`, `keyInUse`), so a
   * replay, a 409 or a mismatch is never faulted and only writes that run draw them. Default: the
   * faults come first, as a provider's front door would answer before looking at the key.
   */
  keyCheckFirst?: boolean | undefined;
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

export const KEY_MISSING = {
  error: {
    type: 'invalid_request_error',
    code: 'idempotency_key_missing',
    message: 'This endpoint requires an Idempotency-Key header.',
  },
};

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
  const stats = statsRecorder();
  const { faults, emit, commit, answer } = instrument(options, stats);
  const required = options.requiredFields ?? [];
  let written: Written[] = [];
  let keys = new Map<string, KeyEntry>();
  let counter = 0;

  /** The faults drawn before anything is saved: a 503, or a 409 for a keyed write. */
  function refusedBeforeCommit(write: WriteRequest): Response | undefined {
    if (faults.take('error5xxBeforeCommit', write)) {
      stats.count('errors5xx');
      return json(503, { error: 'unavailable' });
    }
    if (write.key !== undefined && faults.take('keyInUse', write)) {
      stats.count('inUse', write.key);
      return json(409, KEY_IN_USE);
    }
    return undefined;
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
    if (key === undefined && options.requireKey) {
      stats.count('invalid');
      return json(400, KEY_MISSING);
    }
    const early = options.keyCheckFirst ? undefined : refusedBeforeCommit(incoming);
    if (early) return early;
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
    emit({ type: 'started', write: incoming });
    const late = options.keyCheckFirst ? refusedBeforeCommit(incoming) : undefined;
    if (late) return late;
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
    const resource = { id: `obj_${++counter}`, object: path.split('/').pop(), ...body };
    commit(written, incoming, resource);
    mine.saved = { status: 200, body: resource };
    return answer(incoming, () => json(200, resource, key === undefined ? {} : { 'idempotency-key': key }), {
      error: { type: 'api_error', message: 'internal' },
    });
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

  return emulatorOver(handlers, { stats, faults, written: () => written }, () => {
    written = [];
    counter = 0;
    keys = new Map();
  });
}
