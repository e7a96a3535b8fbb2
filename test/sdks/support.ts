import { createIdempotency, type Idempotency, type OncelyEvent } from '@oncely/core';
import { type Emulator, type Served, serve, stripeLike } from '@oncely/msw';
import { REFUSAL_HEADER } from '@oncely/undici';
import { rng } from '../chaos/ops.mjs';

/*
 * The real SDKs against a local provider that commits every write and then drops a share of the
 * responses (seeded, so every run drops the same ones). Counting what the provider wrote is the
 * measure: a job of N operations, re-run or run twice at once, must write N times in all.
 */

/** A seeded random source (the chaos suite's mulberry32): the same drops on every run of the suite. */
export const seeded = (seed: number): (() => number) => rng(seed);

export interface Provider {
  emulator: Emulator;
  served: Served;
  url: string;
  /** Writes committed on this path (`/v1/customers`). */
  writes(path?: string): number;
  close(): Promise<void>;
}

/** A Stripe-like provider on a real port; `dropAfterCommit` of the responses are lost. */
export async function stripeLikeProvider(dropAfterCommit: number, seed = 7): Promise<Provider> {
  const origin = 'https://api.stripe.com';
  const emulator = stripeLike({ baseUrl: origin, faults: { dropAfterCommit }, random: seeded(seed) });
  const served = await serve(emulator.handlers, { origin });
  return {
    emulator,
    served,
    url: served.url,
    writes: (path) => emulator.written().filter((w) => path === undefined || w.path === path).length,
    close: () => served.close(),
  };
}

/** The README's configuration for a provider reached at `url`, with the events kept for counting. */
export function oncelyFor(url: string, provider?: string): { idem: Idempotency; events: OncelyEvent[] } {
  const events: OncelyEvent[] = [];
  const idem = createIdempotency({
    routes: [{ match: `POST ${url}/*`, ...(provider ? { provider } : {}) }],
    onEvent: (event) => events.push(event),
  });
  return { idem, events };
}

/** Runs `task(i)` for i in [0, n) with at most `width` at once; returns the failures. */
export async function pool(
  n: number,
  width: number,
  task: (i: number) => Promise<unknown>,
): Promise<unknown[]> {
  const failures: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        await task(i);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
  return failures;
}

/** A fake Slack (`POST /api/chat.postMessage`) on a real port: every post is kept, then `drop` of the answers are lost. */
export async function slackLikeProvider(drop: number, seed = 3) {
  const { HttpResponse, http } = await import('msw');
  const origin = 'https://slack.com';
  const random = seeded(seed);
  const posted: string[] = [];
  const handlers = [
    http.post(`${origin}/api/chat.postMessage`, async ({ request }) => {
      const form = new URLSearchParams(await request.text());
      posted.push(form.get('text') ?? '');
      if (random() < drop) return HttpResponse.error();
      return HttpResponse.json({ ok: true, channel: form.get('channel'), ts: `${posted.length}.000` });
    }),
  ];
  const served = await serve(handlers, { origin });
  return { url: served.url, posted, close: () => served.close() };
}

/** A fetch that counts the refusals oncely answered, to tell whether the SDK retried any. */
export function countingRefusals(fetchFn: typeof fetch): {
  fetch: typeof fetch;
  counts: { refusals: number };
} {
  const counts = { refusals: 0 };
  const wrapped = (async (input: string | URL | Request, init?: RequestInit) => {
    const response = await fetchFn(input, init);
    if (response.headers.get(REFUSAL_HEADER)) counts.refusals++;
    return response;
  }) as typeof fetch;
  return { fetch: Object.assign(wrapped, { Response: globalThis.Response }), counts };
}
