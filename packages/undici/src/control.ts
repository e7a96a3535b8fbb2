import { ConfigError, type Override } from '@oncely/core';
import { type OncelyRequestOptions, readRequestOptions } from '@oncely/core/plugin';
import type { HeaderPairs } from './headers.js';

/** Per-request control data: what `execute` accepts, minus the signal (the plugin links that itself). */
export type { OncelyRequestOptions };

/**
 * Headers whose name starts with this carry control data for requests that cannot pass an
 * `oncely` dispatch option (fetch builds its own dispatch options). They never reach the wire.
 */
export const CONTROL_HEADER_PREFIX = 'x-oncely-';

type Setter = (options: OncelyRequestOptions, value: string) => void;

const CONTROL_HEADERS: Record<string, Setter> = {
  'x-oncely-key': (options, value) => {
    options.key = value;
  },
  'x-oncely-skip': (options, value) => {
    options.skip = parseFlag(value);
  },
  'x-oncely-override-reason': (options, value) => {
    options.override = { ...(options.override as Override), reason: value };
  },
  'x-oncely-override-reviewer': (options, value) => {
    options.override = { ...(options.override as Override), reviewer: value };
  },
};

export function isControlHeader(lowerName: string): boolean {
  return lowerName.startsWith(CONTROL_HEADER_PREFIX);
}

/**
 * Control headers for `fetch(url, { headers: { ...oncelyHeaders({ key }) } })`. Values are
 * percent-encoded, so any text (a reviewer's name with accents) survives header rules.
 */
export function oncelyHeaders(options: OncelyRequestOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.key !== undefined) headers['x-oncely-key'] = encodeURIComponent(options.key);
  if (options.skip !== undefined) headers['x-oncely-skip'] = String(options.skip);
  if (options.override !== undefined) {
    headers['x-oncely-override-reason'] = encodeURIComponent(options.override.reason);
    headers['x-oncely-override-reviewer'] = encodeURIComponent(options.override.reviewer);
  }
  return headers;
}

/**
 * Reads the request's control data: the `oncely` dispatch option wins over control headers.
 * Throws `ConfigError` for anything malformed (nothing is sent then).
 */
export function readControl(option: unknown, pairs: HeaderPairs): OncelyRequestOptions {
  const fromHeaders: OncelyRequestOptions = {};
  for (const [name, raw] of pairs) {
    const lower = name.toLowerCase();
    if (!isControlHeader(lower)) continue;
    const set = CONTROL_HEADERS[lower];
    if (!set) {
      const known = Object.keys(CONTROL_HEADERS).join(', ');
      throw new ConfigError(`Unknown oncely control header '${lower}' (known: ${known})`);
    }
    set(fromHeaders, decode(lower, Array.isArray(raw) ? raw.join(', ') : raw));
  }
  return { ...fromHeaders, ...readRequestOptions(option, 'oncely') };
}

function parseFlag(value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`x-oncely-skip must be 'true' or 'false', got '${value}'`);
}

function decode(name: string, value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ConfigError(
      `The value of ${name} is not valid percent-encoding (build it with oncelyHeaders())`,
    );
  }
}
