import { Buffer } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import type { WireResponse } from '@oncely/core';

/**
 * An IncomingMessage-like response that got reads as if it came off a socket (the shape of got's
 * own cache responses): status, lower-case headers, a readable body, and `fromCache`, which got
 * surfaces as `response.isFromCache`. Both live and replayed guarded responses take this shape,
 * so `.json()`, `.text()`, `.body`, `statusCode`, `headers` and hooks behave the same for both.
 */
export class GuardedResponse extends Readable {
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly headers: Record<string, string | string[]>;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  readonly url: string;
  /** True when nothing was sent for this call (store replay, coalesced twin, reconciled outcome). */
  readonly fromCache: boolean;
  readonly complete = true;
  readonly httpVersion = '1.1';
  readonly trailers: Record<string, string> = {};

  constructor(wire: WireResponse, url: string, replayed: boolean) {
    super({ read() {} });
    this.statusCode = wire.status;
    this.statusMessage = wire.statusText || STATUS_CODES[wire.status] || '';
    this.headers = lowerCaseNames(wire.headers);
    this.rawHeaders = Object.entries(this.headers).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).flatMap((one) => [name, one]),
    );
    this.body = Buffer.from(wire.body.buffer, wire.body.byteOffset, wire.body.byteLength);
    this.url = url;
    this.fromCache = replayed;
    if (this.body.byteLength > 0) this.push(this.body);
    this.push(null);
  }
}

/** Headers from a reconcile hook or an operator may carry any case; got expects Node's lower case. */
function lowerCaseNames(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}
