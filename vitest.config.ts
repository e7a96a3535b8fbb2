import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source (the "@oncely/source" export condition);
// child processes spawned by tests run the built dist/ instead. Node's own conditions otherwise:
// not the bundlers' `module`, which for some packages (@opentelemetry/*) names a build Node cannot
// load (extensionless imports), and which an app's Node never picks.
const conditions = ['@oncely/source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
