import { UnknownOutcomeError } from '../errors.js';
import { existingResourceUrl } from '../providers.js';
import type { ExecuteResult, WireResponse } from '../types.js';
import { recordFound } from './found.js';
import type { Operation } from './operation.js';
import { describe, markUnknown } from './store-calls.js';

/** Headers of the original request that a look-up GET must not repeat. */
const LOOKUP_DROPPED_HEADERS = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'host',
  'expect',
]);

/**
 * The provider says an earlier attempt under this key already created a resource and names it:
 * fetch it and record it as the outcome. Anything short of a 2xx leaves the outcome unknown.
 */
export async function fetchExisting(
  op: Operation,
  token: number,
  conflict: WireResponse,
): Promise<ExecuteResult> {
  const { key } = op.derived;
  const url = existingResourceUrl(op.plan.preset, op.request.url, conflict);
  let found: WireResponse | undefined;
  let cause: unknown;
  if (url) {
    try {
      found = await lookUp(op, url);
    } catch (error) {
      cause = error;
    }
  }
  if (!found || found.status < 200 || found.status >= 300) {
    const detail = url
      ? `fetching the existing resource answered ${found?.status ?? describe(cause)}`
      : 'no resource id';
    await markUnknown(op, token, detail);
    op.engine.emit({ type: 'reconciled', key, verdict: 'undecided' });
    throw new UnknownOutcomeError(key, `the provider reports an earlier creation, but ${detail}`, cause);
  }
  return recordFound(op, token, found, 'existing resource named by the provider');
}

/** GET with the original request's headers minus those that describe its body or its key. */
async function lookUp(op: Operation, url: string): Promise<WireResponse> {
  const keyHeader = op.engine.config.derive.keyHeader;
  const sent: Record<string, string> = {};
  for (const [name, value] of Object.entries(op.derived.view.headers)) {
    if (value !== undefined && !LOOKUP_DROPPED_HEADERS.has(name) && name !== keyHeader) sent[name] = value;
  }
  const response = await op.engine.fetch(url, { method: 'GET', headers: sent });
  const responseHeaders: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    responseHeaders[name] = value;
  });
  return {
    status: response.status,
    statusText: response.statusText,
    headers: responseHeaders,
    body: new Uint8Array(await response.arrayBuffer()),
  };
}
