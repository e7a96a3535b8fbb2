import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source (the "@oncely/source" export condition);
// child processes spawned by tests run the built dist/ instead.
const conditions = ['@oncely/source', 'module', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
