import { createIdempotency } from '@oncely/core';
import { plainApi, serve } from '@oncely/msw';
import { oncelyFetch } from '@oncely/undici';
import ky from 'ky';
import { createFetch } from 'ofetch';
import { afterEach, describe, expect, it } from 'vitest';

// ky and ofetch take a `fetch`: oncelyFetch is one, typed exactly as the global.

let close: (() => Promise<void>) | undefined;
afterEach(() => close?.());

async function api() {
  const emulator = plainApi({ baseUrl: 'https://tickets.example.com' });
  const served = await serve(emulator.handlers, { origin: 'https://tickets.example.com' });
  close = () => served.close();
  return { url: served.url, writes: () => emulator.written().length };
}

describe('fetch clients through oncelyFetch', () => {
  it('ky: a repeated create is one write, the replay parses', async () => {
    const { url, writes } = await api();
    const idem = createIdempotency();
    // README: ky
    const client = ky.create({ prefix: url, fetch: oncelyFetch(idem) });
    const first = await client
      .post('tickets', { json: { ref: 'T-1', title: 'printer' } })
      .json<{ id: string }>();
    const again = await client
      .post('tickets', { json: { ref: 'T-1', title: 'printer' } })
      .json<{ id: string }>();
    expect(again.id).toBe(first.id);
    expect(writes()).toBe(1);
  });

  it('ofetch: a repeated create is one write, the replay parses', async () => {
    const { url, writes } = await api();
    const idem = createIdempotency();
    // README: ofetch (its `fetch` is a global option, not a per-request default: `ofetch.create({ fetch })` ignores it)
    const client = createFetch({ fetch: oncelyFetch(idem), defaults: { baseURL: url } });
    const first = await client<{ id: string }>('/tickets', { method: 'POST', body: { ref: 'T-2' } });
    const again = await client<{ id: string }>('/tickets', { method: 'POST', body: { ref: 'T-2' } });
    expect(again.id).toBe(first.id);
    expect(writes()).toBe(1);
  });
});
