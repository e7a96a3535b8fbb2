// The main demo: a billing job that retries after lost responses, run bare and with oncely.
import { createServer } from 'node:http';
import { createIdempotency } from '@oncely/core';

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    charges.push(body);
    // Every third response is lost after the charge was made.
    if (charges.length % 3 === 0) return req.socket.destroy();
    res
      .writeHead(201, { 'content-type': 'application/json' })
      .end(JSON.stringify({ id: `ch_${charges.length}` }));
  });
});
const charges = [];
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/v1/charges`;

async function send(prepared, body) {
  const res = await fetch(prepared.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...prepared.setHeaders },
    body,
  });
  return {
    status: res.status,
    headers: Object.fromEntries(res.headers),
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

async function job(label, post) {
  charges.length = 0;
  for (let order = 1; order <= 10; order++) {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await post(JSON.stringify({ order, amount: 1000 }));
        break;
      } catch {}
    }
  }
  const perOrder = new Map();
  for (const c of charges) perOrder.set(JSON.parse(c).order, (perOrder.get(JSON.parse(c).order) ?? 0) + 1);
  const doubled = [...perOrder.values()].filter((n) => n > 1).length;
  console.log(`${label.padEnd(8)} orders=10 charges=${charges.length} double-charged=${doubled}`);
  return doubled;
}

await job('bare', (body) => send({ url }, body));
const idem = createIdempotency({ namespace: 'demo' });
const doubled = await job('oncely', (body) =>
  idem.execute({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body }, (p) =>
    send(p, body),
  ),
);
server.close();
process.exitCode = doubled === 0 ? 0 : 1;
