import type { WireResponse } from '@oncely/core';
import { AxiosHeaders, type InternalAxiosRequestConfig } from 'axios';

/**
 * What a response oncely built (replayed, coalesced, reconciled, a refusal) carries as
 * `response.request`: the fields of the Node `ClientRequest` the http adapter puts there that
 * SDKs read (@slack/web-api 7 reads `request.path` on every call), and `responseURL` for readers
 * written against the XHR adapter. Nothing was sent for it: it describes the request as the
 * caller configured it.
 */
export interface RequestLike {
  method: string;
  /** Path and query, as `ClientRequest.path`. */
  path: string;
  /** Host name without the port (IPv6 without brackets), as `ClientRequest.host`. */
  host: string;
  /** `'http:'` or `'https:'`. */
  protocol: string;
  getHeader(name: string): string | string[] | number | undefined;
  /** The `IncomingMessage`-like answer: `statusCode`, `statusMessage`, `headers`, `responseUrl`. */
  res: {
    statusCode: number;
    statusMessage: string;
    headers: Record<string, string | string[]>;
    responseUrl: string;
  };
  responseURL: string;
}

export function requestLike(
  config: InternalAxiosRequestConfig,
  method: string,
  url: string,
  response: WireResponse,
  statusMessage: string,
): RequestLike {
  const { path, host, protocol } = urlParts(url);
  const headers = AxiosHeaders.from(config.headers);
  return {
    method,
    path,
    host,
    protocol,
    getHeader: (name) => {
      const value: unknown = headers.get(name);
      return typeof value === 'string' || typeof value === 'number' || Array.isArray(value)
        ? (value as string | number | string[])
        : undefined;
    },
    res: { statusCode: response.status, statusMessage, headers: { ...response.headers }, responseUrl: url },
    responseURL: url,
  };
}

interface UrlParts {
  url: string;
  path: string;
  host: string;
  protocol: string;
}

/** The last URL parsed: replays repeat few URLs, and `new URL` is ~1 µs of each replay. */
let lastParts: UrlParts | undefined;

function urlParts(url: string): UrlParts {
  if (lastParts?.url === url) return lastParts;
  // A relative URL (no baseURL) still gets a path; its host is then unknown.
  const parsed = new URL(url, 'http://localhost');
  const { hostname } = parsed;
  lastParts = {
    url,
    path: `${parsed.pathname}${parsed.search}`,
    host: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
    protocol: parsed.protocol,
  };
  return lastParts;
}
