// A local stand-in for a Stripe-style API, with the faults real networks have: `stripeLike` from
// @oncely/msw served on a free loopback port (axios reaches it as a real server, no interception).
//
// POST /v1/charges creates a charge. With an `Idempotency-Key` header it deduplicates like Stripe:
// same key + same body → the saved response again, marked `Idempotent-Replayed: true`; same key
// while the first request still runs → 409 idempotency_key_in_use; same key, other body → 400
// idempotency_error. Without a key every request creates a new charge.
// `loseResponse(orderId)` makes the next charge for that order commit and then drop the connection.
import { serve, stripeLike } from '@oncely/msw';

const ORIGIN = 'https://api.stripe.test';

export async function startStripeLikeServer() {
  const stripe = stripeLike({ baseUrl: ORIGIN });
  const served = await serve(stripe.handlers, { origin: ORIGIN });
  const orderOf = (body) => body.metadata?.order_id;
  return {
    url: served.url,
    loseResponse: (order) =>
      stripe.inject({ dropAfterCommit: 1, match: (write) => orderOf(write.body) === order }),
    stats() {
      const perOrder = new Map();
      const charges = stripe.written();
      for (const { resource } of charges)
        perOrder.set(orderOf(resource), (perOrder.get(orderOf(resource)) ?? 0) + 1);
      return {
        charges: charges.length,
        doubleCharged: [...perOrder.values()].filter((n) => n > 1).length,
        replays: stripe.stats().replays,
      };
    },
    close: () => served.close(),
  };
}
