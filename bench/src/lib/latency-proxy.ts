import { connect, createServer, type Socket } from 'node:net';
import { onCleanup } from './cleanup.js';

export interface LatencyProxy {
  port: number;
  close(): void;
}

/**
 * A loopback TCP proxy in front of `targetPort` that holds every chunk `oneWayMs` in each direction
 * (order kept), to see what a network between the client and Redis does to each library.
 * Node timers have 1 ms granularity, so the smallest added round trip is about 2 ms.
 */
export async function latencyProxy(targetPort: number, oneWayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const relay = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
        }, oneWayMs);
      });
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const close = () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  const unregister = onCleanup(close);
  return {
    port,
    close() {
      close();
      unregister();
    },
  };
}
