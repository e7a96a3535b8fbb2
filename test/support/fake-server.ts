import { type Injection, plainApi, type ReceivedRequest, serve, stripeLike, type Written } from '@oncely/msw';
import { HttpResponse, http } from 'msw';

export type { ReceivedRequest };

/**
 * The `@oncely/msw` emulators on a free loopback port (`serve`), as the plugin suites need them:
 *
 * - `/native/*`: `stripeLike` (Stripe-like `Idempotency-Key` deduplication);
 * - `/plain/*`: `plainApi` (no native keys; `GET /plain/lookup?ref=` for reconcile hooks);
 * - any method on `/echo`: `200 { method, path, headers, body }` (body as UTF-8 text);
 * - anything else: `404 {"error":"no_route"}`.
 *
 * Their statuses and bodies are documented in `packages/msw/README.md`.
 *
 * Faults (`inject(pathPrefix, faults)`, counted per injected entry; `n` = how many upcoming
 * matching writes get the fault; `pathPrefix` must lie under `/native/` or `/plain/`):
 * - `error503BeforeCommit: n`: answer `503` before anything is recorded. Not a write.
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

export interface FakeServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  inject(pathPrefix: string, faults: Faults): void;
  /** Committed writes, optionally only those whose path starts with `pathPrefix`. */
  writes(pathPrefix?: string): number;
  /** The committed writes themselves. */
  written(pathPrefix?: string): Written[];
  /** Every request received, in arrival order (faulted ones included). */
  requests(): ReceivedRequest[];
  /** Forgets writes, keys, requests and faults. */
  reset(): void;
  close(): Promise<void>;
}

/** The origin the handlers are built for; `serve` answers it on loopback. */
const ORIGIN = 'http://fake.local';

export async function startFakeServer(): Promise<FakeServer> {
  const emulators = {
    '/native': stripeLike({ baseUrl: `${ORIGIN}/native` }),
    '/plain': plainApi({ baseUrl: `${ORIGIN}/plain` }),
  };
  let received: ReceivedRequest[] = [];
  const echo = http.all(`${ORIGIN}/echo`, async ({ request }) => {
    const url = new URL(request.url);
    return HttpResponse.json({
      method: request.method,
      path: url.pathname + url.search,
      headers: Object.fromEntries(request.headers),
      body: await request.text(),
    });
  });
  const noRoute = http.all('*', () => HttpResponse.json({ error: 'no_route' }, { status: 404 }));
  const served = await serve(
    [...emulators['/native'].handlers, ...emulators['/plain'].handlers, echo, noRoute],
    {
      origin: ORIGIN,
      onRequest: (request) => received.push(request),
    },
  );

  /** The emulator a prefix belongs to: a counted fault must reach exactly one. */
  function emulatorFor(prefix: string) {
    const base = prefix.startsWith('/native/')
      ? '/native'
      : prefix.startsWith('/plain/')
        ? '/plain'
        : undefined;
    if (base === undefined)
      throw new Error(`inject: the prefix must be under /native/ or /plain/, got ${prefix}`);
    return emulators[base];
  }

  const all = (): Written[] => [...emulators['/native'].written(), ...emulators['/plain'].written()];
  const under = (prefix: string) => all().filter((w) => w.path.startsWith(prefix));

  return {
    url: served.url,
    inject(prefix, faults) {
      const injection: Injection = {
        pathPrefix: prefix,
        dropAfterCommit: faults.dropAfterCommit,
        error5xxAfterCommit: faults.error5xxAfterCommit,
        error5xxBeforeCommit: faults.error503BeforeCommit,
        keyInUse: faults.inUseForever ? Number.POSITIVE_INFINITY : undefined,
        latencyMs: faults.delayMs,
      };
      emulatorFor(prefix).inject(injection);
    },
    writes: (prefix = '/') => under(prefix).length,
    written: (prefix = '/') => under(prefix),
    requests: () => [...received],
    reset() {
      received = [];
      for (const emulator of Object.values(emulators)) emulator.reset();
    },
    close: () => served.close(),
  };
}
