// A tiny local stand-in for a Stripe-style API, with the faults real networks have.
//
// POST /v1/charges creates a charge. With an `Idempotency-Key` header it deduplicates like Stripe:
// same key + same body → the saved response again, marked `Idempotent-Replayed: true`; same key
// while the first request still runs → 409 idempotency_key_in_use; same key, other body → 400
// idempotency_error. Without a key every request creates a new charge.
// `loseResponse(orderId)` makes the next charge for that order commit and then drop the connection.
import { createServer } from 'node:http';

export async function startStripeLikeServer() {
  const charges = []; // every charge created: { id, order }
  const keys = new Map(); // idempotency key → { body, response | undefined }
  const lose = new Set();
  let replays = 0;

  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString('utf8');
    const key = req.headers['idempotency-key'];
    const send = (status, payload, headers = {}) =>
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));

    if (key) {
      const seen = keys.get(key);
      if (seen && seen.body !== body) {
        return send(400, {
          error: {
            type: 'idempotency_error',
            message:
              'Keys for idempotent requests can only be used with the same parameters they were first used with.',
          },
        });
      }
      if (seen && !seen.response) return send(409, { error: { code: 'idempotency_key_in_use' } });
      if (seen) {
        replays++;
        return send(200, seen.response, { 'idempotent-replayed': 'true' });
      }
      keys.set(key, { body });
    }
    const order = JSON.parse(body).metadata.order_id;
    const charge = {
      id: `ch_${charges.length + 1}`,
      object: 'charge',
      order,
      amount: JSON.parse(body).amount,
    };
    charges.push(charge);
    if (key) keys.get(key).response = charge;
    if (lose.delete(order)) return req.socket.destroy(); // committed, then the response is lost
    send(200, charge);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    loseResponse: (order) => lose.add(order),
    stats() {
      const perOrder = new Map();
      for (const c of charges) perOrder.set(c.order, (perOrder.get(c.order) ?? 0) + 1);
      return {
        charges: charges.length,
        doubleCharged: [...perOrder.values()].filter((n) => n > 1).length,
        replays,
      };
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
