import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getResponse, type RequestHandler } from 'msw';

export interface ServeOptions {
  /** The origin the handlers were built for (the emulator's `baseUrl` origin), e.g. `'https://api.stripe.com'`. */
  origin: string;
  /** Default `0`: a free port. */
  port?: number | undefined;
  /** Default `'127.0.0.1'`. */
  host?: string | undefined;
  /**
   * Called with every request as it arrived, before it is answered (faulted ones included): what
   * a test compares on the wire, which the handlers' `Request` no longer shows (raw header order
   * and case, body bytes).
   */
  onRequest?: ((request: ReceivedRequest) => void) | undefined;
  /** How long an idle keep-alive connection stays open, in ms (Node's default: 5 s). */
  keepAliveTimeoutMs?: number | undefined;
}

export interface ReceivedRequest {
  method: string;
  /** Path and query string, as received. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Header names and values exactly as sent (alternating). */
  rawHeaders: string[];
  body: Buffer;
}

export interface Served {
  /** `http://127.0.0.1:<port>`: use it instead of the origin. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves MSW handlers over real loopback HTTP, for clients MSW cannot intercept (`undici.request`,
 * fetch with an undici `dispatcher`). A request to `<url>/v1/charges` is answered as
 * `<origin>/v1/charges` would be; `HttpResponse.error()` destroys the socket (a lost response).
 * A client that closes its connection before its answer aborts the handler's `request.signal`.
 */
export async function serve(handlers: RequestHandler[], options: ServeOptions): Promise<Served> {
  const origin = new URL(options.origin).origin;
  const keepAliveTimeout = options.keepAliveTimeoutMs;
  const server = createServer(keepAliveTimeout === undefined ? {} : { keepAliveTimeout }, (req, res) => {
    answer(handlers, origin, options.onRequest, req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(error) }));
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}

async function answer(
  handlers: RequestHandler[],
  origin: string,
  onRequest: ServeOptions['onRequest'],
  req: IncomingMessage,
  res: ServerResponse,
) {
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const method = req.method ?? 'GET';
  onRequest?.({ method, path: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders, body });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== 'host')
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const request = new Request(new URL(req.url ?? '/', origin), {
    method,
    headers,
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
    signal: gone.signal,
  });
  const response = await getResponse(handlers, request);
  if (!response) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'no_handler' }));
    return;
  }
  if (response.type === 'error') {
    req.socket.destroy();
    return;
  }
  const bytes = Buffer.from(await response.arrayBuffer());
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    out[name] = value;
  });
  out['content-length'] = String(bytes.byteLength);
  res.writeHead(response.status, out);
  res.end(bytes);
}
