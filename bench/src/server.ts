/**
 * The downstream API of the bench, run in its own process (so its CPU is not billed to the client):
 * every write answers at once `200 {"id":…,"ok":true}`; `?delay=<ms>` holds the answer that long.
 * `GET /__count?path=<path>` tells how many writes reached `<path>` (the hot-key check).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const writes = new Map<string, number>();
let total = 0;
let connections = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/__count') {
    const path = url.searchParams.get('path') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count: writes.get(path) ?? 0, total, connections }));
    return;
  }
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
  });
  req.on('end', () => {
    total++;
    const n = (writes.get(url.pathname) ?? 0) + 1;
    writes.set(url.pathname, n);
    const body = JSON.stringify({ id: `w_${total}`, ok: true, received: size, n });
    const reply = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const delay = Number(url.searchParams.get('delay') ?? 0);
    if (delay > 0) setTimeout(reply, delay);
    else reply();
  });
});
server.on('connection', () => {
  connections++;
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.maxRequestsPerSocket = 0;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ port });
});
process.on('disconnect', () => process.exit(0));
