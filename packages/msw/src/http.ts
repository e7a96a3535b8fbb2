import { HttpResponse } from 'msw';

/** A JSON answer with the headers every emulator sets (a request id, like real providers). */
export function json(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return HttpResponse.json(value as Record<string, unknown>, {
    status,
    headers: { 'request-id': `req_${crypto.randomUUID()}`, ...headers },
  });
}

/**
 * The body as the emulators store it: JSON or form fields, else `{ raw: text }` (the same rules
 * as the node:http fake server of the conformance suite).
 */
export function parseBody(text: string, contentType: string | null): Record<string, unknown> {
  if (text === '') return {};
  try {
    if (contentType?.includes('json')) {
      const value: unknown = JSON.parse(text);
      return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : { value };
    }
    if (contentType?.includes('x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  } catch {
    // Not what the content type claims: keep the raw text.
  }
  return { raw: text };
}

/** The body as text (to parse) and as its exact bytes, base64 (to compare parameters byte for byte). */
export async function readBody(request: Request): Promise<{ text: string; bytes: string }> {
  const bytes = Buffer.from(await request.arrayBuffer());
  return { text: bytes.toString('utf8'), bytes: bytes.toString('base64') };
}

export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `baseUrl` without a trailing slash, validated once. */
export function normaliseBase(baseUrl: string): string {
  const url = new URL(baseUrl);
  if (url.search || url.hash) throw new TypeError(`baseUrl must not have a query or fragment: ${baseUrl}`);
  return url.toString().replace(/\/+$/, '');
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `'24h'`, `'30m'`, `'500ms'` or milliseconds. */
export function durationMs(value: number | string, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim()) : null;
  if (!match)
    throw new TypeError(`${what} must be milliseconds or a duration like '24h', got ${String(value)}`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}
