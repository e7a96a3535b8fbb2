import { plainApi } from '@oncely/msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const BASE = 'https://tickets.test/api';
const tickets = plainApi({ baseUrl: BASE });
const server = setupServer(...tickets.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => tickets.reset());
afterAll(() => server.close());

function createTicket(body: Record<string, unknown>) {
  return fetch(`${BASE}/tickets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const lookup = (ref: string) => fetch(`${BASE}/lookup?ref=${encodeURIComponent(ref)}`);

describe('plainApi', () => {
  it('creates 201 { id, ref, ...body } on every write', async () => {
    const res = await createTicket({ ref: 'T-1', title: 'printer on fire' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: 'res_1', ref: 'T-1', title: 'printer on fire' });
    expect(tickets.stats()).toMatchObject({ writes: 1, byKey: { 'T-1': { writes: 1 } } });
  });

  it('has no native keys: a repeated write is a duplicate', async () => {
    await createTicket({ ref: 'T-1' });
    await createTicket({ ref: 'T-1' });
    expect(tickets.stats()).toMatchObject({ writes: 2, duplicates: 1, replays: 0 });
  });

  it('looks a resource up by ref (the first one created), 404 when absent', async () => {
    await createTicket({ ref: 'T-1', n: 1 });
    await createTicket({ ref: 'T-1', n: 2 });
    const found = await lookup('T-1');
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ id: 'res_1', n: 1 });
    const missing = await lookup('T-2');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found' });
  });

  it('a lost response after commit is still found by the lookup (what a reconcile hook relies on)', async () => {
    tickets.inject({ dropAfterCommit: 1 });
    await expect(createTicket({ ref: 'T-9' })).rejects.toThrow(TypeError);
    expect((await lookup('T-9')).status).toBe(200);
    expect(tickets.stats()).toMatchObject({ writes: 1, dropped: 1 });
  });

  it('a 5xx before commit writes nothing', async () => {
    tickets.inject({ error5xxBeforeCommit: 1 });
    expect((await createTicket({ ref: 'T-3' })).status).toBe(503);
    expect((await lookup('T-3')).status).toBe(404);
    expect(tickets.stats()).toMatchObject({ writes: 0, errors5xx: 1 });
  });

  it("a fault scoped to one ref is taken by that ref's write only; its key is the ref", async () => {
    tickets.inject({ dropAfterCommit: 1, match: (write) => write.key === 'T-5' });
    expect((await createTicket({ ref: 'T-4' })).status).toBe(201);
    await expect(createTicket({ ref: 'T-5' })).rejects.toThrow(TypeError);
    expect((await createTicket({ ref: 'T-5' })).status).toBe(201);
    expect(tickets.stats()).toMatchObject({ writes: 3, dropped: 1, duplicates: 1 });
  });

  it('answers 404 no_route to reads other than the lookup', async () => {
    const res = await fetch(`${BASE}/tickets/res_1`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'no_route' });
  });
});
