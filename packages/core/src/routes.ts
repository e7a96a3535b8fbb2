import { ConfigError } from './errors.js';
import type { RouteRule } from './types.js';

const METHOD = /^[A-Z]+$/;

/** A route rule with its pattern compiled once. */
export interface CompiledRoute {
  rule: RouteRule;
  /** Method the pattern names, or `undefined` for any method. */
  method: string | undefined;
  test(method: string, target: string): boolean;
}

/**
 * Compiles `match`:
 * - `'POST /v1/charges'`, `'/v1/*'`: path pattern (any host), optional method;
 * - `'POST https://api.example.com/v1/*'`: absolute pattern (scheme + host + path);
 * - `*` matches any run of characters; the query string is never part of a string pattern;
 * - a RegExp is tested against `'METHOD normalised-url'`.
 */
export function compileRoute(rule: RouteRule, index: number): CompiledRoute {
  const { match } = rule;
  if (match instanceof RegExp) {
    if (match.global || match.sticky) {
      throw new ConfigError(
        `routes[${index}].match: a RegExp with the g or y flag keeps state between tests; drop the flag`,
      );
    }
    return { rule, method: undefined, test: (method, target) => match.test(`${method} ${target}`) };
  }
  if (typeof match !== 'string' || match.trim() === '') {
    throw new ConfigError(
      `routes[${index}].match must be a non-empty string like 'POST /v1/charges' or a RegExp`,
    );
  }
  const parts = match.trim().split(/\s+/);
  if (parts.length > 2)
    throw new ConfigError(`routes[${index}].match '${match}' has more than a method and a pattern`);
  const [method, pattern] =
    parts.length === 2 ? [parts[0]!.toUpperCase(), parts[1]!] : [undefined, parts[0]!];
  if (method !== undefined && !METHOD.test(method)) {
    throw new ConfigError(`routes[${index}].match '${match}': '${parts[0]}' is not an HTTP method`);
  }
  const absolute = /^https?:\/\//i.test(pattern);
  if (!absolute && !pattern.startsWith('/')) {
    throw new ConfigError(
      `routes[${index}].match '${match}': the pattern must start with '/' or 'http(s)://' (e.g. 'POST /v1/charges')`,
    );
  }
  const regex = globToRegExp(absolute ? lowerOrigin(pattern) : pattern);
  return {
    rule,
    method,
    test(reqMethod, target) {
      if (method !== undefined && method !== reqMethod) return false;
      const noQuery = target.split('?', 1)[0]!;
      return regex.test(absolute ? noQuery : noQuery.slice(noQuery.indexOf('/', noQuery.indexOf('//') + 2)));
    },
  };
}

function lowerOrigin(pattern: string): string {
  const pathStart = pattern.indexOf('/', pattern.indexOf('//') + 2);
  if (pathStart === -1) return pattern.toLowerCase();
  return pattern.slice(0, pathStart).toLowerCase() + pattern.slice(pathStart);
}

function globToRegExp(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`);
}

/** First matching route wins. */
export function findRoute<R extends CompiledRoute>(
  routes: readonly R[],
  method: string,
  target: string,
): R | undefined {
  for (const route of routes) if (route.test(method, target)) return route;
  return undefined;
}
