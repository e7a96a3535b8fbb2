import { effectiveStatus, type IdempotencyRecord, leaseLive, type RecordStatus, toMs } from '@oncely/core';
import { UsageError } from './errors.js';

export const STATUSES: readonly RecordStatus[] = ['unknown', 'in_flight', 'completed'];

/** `--status` value → a record status, or a usage error naming the accepted values. */
export function parseStatus(value: string): RecordStatus {
  if ((STATUSES as readonly string[]).includes(value)) return value as RecordStatus;
  throw new UsageError(`unknown status '${value}': use one of ${STATUSES.join(', ')}`);
}

/** `'10m'`, `'24h'`, `'90s'`, `'7d'`, `'500ms'` → milliseconds; anything else is a usage error. */
export function parseDuration(value: string, option: string): number {
  if (/^\d+(\.\d+)?$/.test(value.trim())) {
    throw new UsageError(
      `${option} needs a unit: '${value}ms', '${value}s', '${value}m', '${value}h' or '${value}d'`,
    );
  }
  try {
    return toMs(value, option);
  } catch {
    throw new UsageError(`${option} must be a duration like '90s', '10m', '24h' or '7d'; got '${value}'`);
  }
}

/** A positive integer option, e.g. `--limit`. */
export function parsePositiveInt(value: string, option: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${option} must be a positive whole number; got '${value}'`);
  }
  return Number(value);
}

/** Milliseconds as two units at most: `350ms`, `45s`, `3m12s`, `2h05m`, `4d03h`. */
export function formatDuration(ms: number): string {
  const abs = Math.max(0, Math.round(ms));
  if (abs < 1_000) return `${abs}ms`;
  const s = Math.floor(abs / 1_000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad2(h % 24)}h`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** A timestamp with its distance from now: `2026-11-29T21:00:00.000Z (5m02s ago)`. */
export function formatTime(at: number, now: number): string {
  const iso = new Date(at).toISOString();
  const delta = at - now;
  return `${iso} (${delta <= 0 ? `${formatDuration(-delta)} ago` : `in ${formatDuration(delta)}`})`;
}

/** Left-aligned columns separated by two spaces; the header row is upper-cased. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n')}\n`;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The status an operator acts on: an `in_flight` record whose lease expired is `unknown`. */
export function statusOf(record: IdempotencyRecord, now: number): RecordStatus {
  return effectiveStatus(record, now);
}

/** Byte size of a stored (base64) body. */
export function bodyBytes(base64: string): number {
  return Buffer.from(base64, 'base64').byteLength;
}

export interface ResponseView {
  status: number;
  statusText?: string | undefined;
  headerNames: string[];
  bodyBytes?: number | undefined;
  omitted?: string | undefined;
  /** Headers and body are encrypted at rest (`encryption` option): the CLI holds no keys and shows neither. */
  sealed?: true | undefined;
  /** Only with `--body`: the body as UTF-8 text when it is text, else base64. */
  body?: string | undefined;
  bodyEncoding?: 'utf8' | 'base64' | undefined;
}

/** A record as the CLI prints it in JSON: the effective status added, the response body summarised. */
export function recordView(
  record: IdempotencyRecord,
  now: number,
  options: { body?: boolean } = {},
): Record<string, unknown> {
  const { response, ...rest } = record;
  return {
    ...rest,
    storedStatus: record.status,
    status: statusOf(record, now),
    leaseExpired: record.leaseUntil !== null && !leaseLive(record, now),
    response: response && responseView(response, options.body === true),
  };
}

export function responseView(
  response: NonNullable<IdempotencyRecord['response']>,
  withBody: boolean,
): ResponseView {
  const view: ResponseView = {
    status: response.status,
    statusText: response.statusText,
    headerNames: Object.keys(response.headers).sort(),
  };
  if (response.body !== undefined) view.bodyBytes = bodyBytes(response.body);
  if (response.omitted !== undefined) view.omitted = response.omitted;
  if (response.sealed !== undefined) view.sealed = true;
  if (withBody && response.body !== undefined) {
    const decoded = decodeBody(response.body);
    view.body = decoded.text;
    view.bodyEncoding = decoded.encoding;
  }
  return view;
}

/** A stored body as text when it is valid UTF-8, else as base64. */
export function decodeBody(base64: string): { text: string; encoding: 'utf8' | 'base64' } {
  const bytes = Buffer.from(base64, 'base64');
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf8' };
  } catch {
    return { text: base64, encoding: 'base64' };
  }
}

/** A Redis URL fit to print: the password (if any) replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable URL>';
  }
}
