import type { ReserveInput, WireResponse } from '@oncely/core';

/** A store reservation for `key` with fixed other fields (tests of the store itself). */
export function reserveInput(key: string, leaseMs = 10_000): ReserveInput {
  return {
    key,
    scope: 's',
    fingerprint: 'f',
    method: 'POST',
    target: 't',
    owner: 'o',
    leaseMs,
    ttlMs: 60_000,
  };
}

/** An engine request for one order (tests through `createIdempotency`). */
export const orderRequest = (order: string) => ({
  method: 'POST',
  url: 'http://127.0.0.1/v1/charges',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ order }),
});

const created: WireResponse = { status: 201, headers: {}, body: Buffer.from('{"id":"ch_1"}') };

/** A `send` that answers 201 and counts its calls (`send.calls`). */
export function countingSend() {
  const send = async () => {
    send.calls++;
    return created;
  };
  send.calls = 0;
  return send;
}
