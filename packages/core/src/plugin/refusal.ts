import type { IdempotencyError } from '../errors.js';
import type { WireResponse } from '../types.js';

/*
 * A refusal (oncely decided not to send) answered as a response instead of thrown, for SDKs whose
 * retry logic would retry a thrown error as a network failure. Which form a client gets is its
 * plugin's option (`refusals:`); the forms themselves are written here once.
 */

/** On a refusal response: the oncely error code (`ONCELY_PAYLOAD_MISMATCH`, …). */
export const REFUSAL_HEADER = 'x-oncely-error';

/**
 * `'response'`: a `422` — the one status stripe-node, openai, octokit's retry plugin and Slack all
 * leave alone — that also says so (`x-should-retry`, `stripe-should-retry`). `'slack'`: Slack's own
 * "no", `200 { ok: false, error: 'oncely_<code>' }`, which @slack/web-api never retries.
 */
export function refusalResponse(error: IdempotencyError, form: 'response' | 'slack'): WireResponse {
  const body =
    form === 'slack'
      ? { ok: false, error: error.code.toLowerCase(), message: error.message }
      : { error: { type: 'oncely_error', code: error.code, message: error.message } };
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    [REFUSAL_HEADER]: error.code,
  };
  if (form === 'response') {
    headers['x-should-retry'] = 'false';
    headers['stripe-should-retry'] = 'false';
  }
  return {
    status: form === 'slack' ? 200 : 422,
    headers,
    body: new TextEncoder().encode(JSON.stringify(body)),
  };
}
