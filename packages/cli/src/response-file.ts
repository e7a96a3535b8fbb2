import { readFile } from 'node:fs/promises';
import { DEFAULTS, isSecretResponseHeader, type StoredResponse, unsafeHeader } from '@oncely/core';
import { UsageError } from './errors.js';

/**
 * The response file of `oncely resolve --as completed`: what the provider answered, as checked by hand.
 *
 * ```json
 * { "status": 201, "statusText": "Created", "headers": { "content-type": "application/json" }, "body": { "id": "ch_1" } }
 * ```
 * - `status` (required): an integer 100–599.
 * - `statusText` (optional): a string.
 * - `headers` (optional): header name → string or array of strings. Names are stored lower-case.
 *   Credential headers (set-cookie, authorization, …) are refused: the store never keeps them.
 * - `body` (optional): a string is stored as its UTF-8 bytes; any other JSON value is stored as
 *   JSON (and `content-type: application/json` is added when no content type is given);
 *   absent or `null` means an empty body.
 * - `bodyBase64` (optional, instead of `body`): raw bytes, base64-encoded.
 */
export interface ResponseFile {
  status: number;
  statusText?: string;
  headers?: Record<string, string | string[]>;
  body?: unknown;
  bodyBase64?: string;
}

/** The engine's default `maxResponseBytes`: a bigger body could not be replayed anyway. */
export const MAX_BODY_BYTES = DEFAULTS.maxResponseBytes;

const FIELDS = new Set(['status', 'statusText', 'headers', 'body', 'bodyBase64']);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Reads and validates a response file; every problem is a `UsageError` naming the file. */
export async function readResponseFile(path: string): Promise<StoredResponse> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read response file ${path}: ${code === 'ENOENT' ? 'no such file' : String(error)}`,
    );
  }
  return parseResponseFile(text, path);
}

export function parseResponseFile(text: string, source = 'the response file'): StoredResponse {
  const bad = (problem: string) =>
    new UsageError(
      `malformed response file ${source}: ${problem}. Expected {"status": 201, "headers": {...}, "body": <JSON or string>}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw bad(`not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('not a JSON object');
  const file = parsed as Record<string, unknown>;
  const unknownFields = Object.keys(file).filter((name) => !FIELDS.has(name));
  if (unknownFields.length > 0) {
    throw bad(`unknown field(s) ${unknownFields.map((f) => `"${f}"`).join(', ')}`);
  }

  const { status, statusText } = file;
  if (status === undefined) throw bad('"status" is missing');
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw bad(`"status" must be an integer from 100 to 599, got ${JSON.stringify(status)}`);
  }
  if (statusText !== undefined && typeof statusText !== 'string') throw bad('"statusText" must be a string');

  const headers = parseHeaders(file.headers, bad);

  if (file.body !== undefined && file.bodyBase64 !== undefined)
    throw bad('give "body" or "bodyBase64", not both');
  let bytes: Buffer;
  if (file.bodyBase64 !== undefined) {
    const b64 = file.bodyBase64;
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
      throw bad('"bodyBase64" must be a base64 string');
    }
    bytes = Buffer.from(b64, 'base64');
  } else if (file.body === undefined || file.body === null) {
    bytes = Buffer.alloc(0);
  } else if (typeof file.body === 'string') {
    bytes = Buffer.from(file.body, 'utf8');
  } else {
    bytes = Buffer.from(JSON.stringify(file.body), 'utf8');
    if (headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  }
  if (bytes.byteLength > MAX_BODY_BYTES) {
    throw bad(`the body is ${bytes.byteLength} bytes; at most ${MAX_BODY_BYTES} can be stored and replayed`);
  }

  const response: StoredResponse = { status, headers, body: bytes.toString('base64') };
  if (statusText !== undefined) response.statusText = statusText;
  return response;
}

function parseHeaders(
  value: unknown,
  bad: (problem: string) => UsageError,
): Record<string, string | string[]> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('"headers" must be an object of header name → string (or array of strings)');
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, raw] of Object.entries(value)) {
    if (!HEADER_NAME.test(name)) throw bad(`"${name}" is not a valid header name`);
    const lower = name.toLowerCase();
    // The engine's own rule (core secrets.ts), so the two never drift apart.
    if (isSecretResponseHeader(lower)) {
      throw bad(`header "${name}" is never stored (credentials); remove it`);
    }
    if (headers[lower] !== undefined) throw bad(`header "${name}" is given twice`);
    const valid =
      typeof raw === 'string' || (Array.isArray(raw) && raw.every((item) => typeof item === 'string'));
    if (!valid) throw bad(`header "${name}" must be a string or an array of strings`);
    if (unsafeHeader({ [name]: raw as string | string[] }) !== undefined) {
      throw bad(`header "${name}" holds CR, LF or NUL, which could split the replayed response`);
    }
    headers[lower] = raw as string | string[];
  }
  return headers;
}
