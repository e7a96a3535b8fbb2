import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A provider answering every POST with the headers SDKs read (request ids, rate limits, links, a
 * two-value header), plus two secret ones core never stores. For the plugins' replay-header tests.
 */
/** The headers an SDK reads, which a replay must keep. */
export const READ_HEADERS = [
  'content-type',
  'request-id',
  'x-request-id',
  'x-ratelimit-remaining',
  'x-oauth-scopes',
  'link',
  'x-served-by',
] as const;
/** The secret ones core never stores, so a replay never carries. */
export const SECRET_HEADERS = ['set-cookie', 'x-auth-token'] as const;

export function sdkHeadersServer() {
  let server: Server | undefined;
  const state = {
    url: '',
    writes: 0,
    async start(): Promise<void> {
      server = createServer((incoming, response) => {
        incoming.resume().on('end', () => {
          state.writes++;
          response.writeHead(201, {
            'content-type': 'application/json; charset=utf-8',
            'request-id': `req_${state.writes}`,
            'x-request-id': `xreq_${state.writes}`,
            'x-ratelimit-remaining': '41',
            'x-oauth-scopes': 'chat:write, channels:read',
            link: '<https://example.test/v1/things?page=2>; rel="next"',
            'set-cookie': ['sid=secret', 'other=secret'],
            'x-auth-token': 'secret',
            'x-served-by': ['edge-1', 'edge-2'],
          });
          response.end(JSON.stringify({ id: state.writes }));
        });
      });
      await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
      state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    close: (): Promise<void> =>
      new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
  return state;
}
