import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every package's public surface, pinned: adding, removing or renaming an export fails here, so
// the change is made on purpose (and lands in the CHANGELOG). Values only; types are checked by tsc.

const here = dirname(fileURLToPath(import.meta.url));

const ENTRIES = [
  '@oncely/core',
  '@oncely/core/testing',
  '@oncely/core/plugin',
  '@oncely/core/otel',
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

// CommonJS callers: the `default` condition points at the ESM build, which Node ≥ 20.19 loads
// through require(esm). Run in a plain Node child (vitest resolves with the source condition), so
// this is what an app's `require` gets from the built dist: the same surface as `import`.
describe('require() of the built packages', () => {
  it.each(ENTRIES)('%s', (entry) => {
    const script = `const r = require(${JSON.stringify(entry)});
      import(${JSON.stringify(entry)}).then((m) => console.log(JSON.stringify([Object.keys(r).sort(), Object.keys(m).sort()])));`;
    const { NODE_OPTIONS: _, ...env } = process.env;
    const out = execFileSync(process.execPath, ['-e', script], { cwd: here, env }).toString();
    const [required, imported] = JSON.parse(out) as [string[], string[]];
    expect(required.length).toBeGreaterThan(0);
    expect(required).toEqual(imported);
  });
});
