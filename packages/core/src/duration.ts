import { ConfigError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `'500ms'`, `'60s'`, `'10m'`, `'24h'`, `'7d'`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** Parses a {@link Duration} into whole milliseconds; `what` names the option in the error. */
export function toMs(value: Duration, what: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
    throw new ConfigError(`${what} must be a non-negative number of milliseconds, got ${value}`);
  }
  if (typeof value !== 'string') {
    throw new ConfigError(
      `${what} must be milliseconds or a duration string like '60s'; got ${typeof value}`,
    );
  }
  const match = PATTERN.exec(value.trim());
  if (!match) {
    throw new ConfigError(
      `${what} must be milliseconds or a duration like '500ms', '60s', '10m', '24h', '7d'; got '${value}'`,
    );
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}
