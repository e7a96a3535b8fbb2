/**
 * Remembers the last `max` results of a pure string function. Every request derives the same few
 * targets and credential scopes again and again; parsing and hashing them once is enough.
 */
export function memoize<T extends string>(fn: (input: string) => T, max = 512): (input: string) => T {
  const cache = new Map<string, T>();
  return (input) => {
    let value = cache.get(input);
    if (value === undefined) {
      value = fn(input);
      if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      cache.set(input, value);
    }
    return value;
  };
}
