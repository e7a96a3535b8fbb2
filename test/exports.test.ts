import { describe, expect, it } from 'vitest';

// Every package's public surface, pinned: adding, removing or renaming an export fails here, so
// the change is made on purpose (and lands in the CHANGELOG). Values only; types are checked by tsc.

const ENTRIES = [
  '@oncely/core',
  '@oncely/core/testing',
  '@oncely/core/plugin',
  '@oncely/axios',
  '@oncely/got',
  '@oncely/undici',
  '@oncely/redis',
  '@oncely/msw',
  '@oncely/cli',
] as const;

describe('public exports', () => {
  it.each(ENTRIES)('%s', async (entry) => {
    const module = (await import(entry)) as Record<string, unknown>;
    const surface = Object.fromEntries(
      Object.keys(module)
        .sort()
        .map((name) => [name, typeof module[name]]),
    );
    expect(surface).toMatchSnapshot();
  });
});
