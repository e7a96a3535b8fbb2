import { beforeAll, describe, expect, it } from 'vitest';
import { buildPackages } from '../../scripts/build-packages.mjs';
import { run } from './main.mjs';

// The two jobs run as child processes on the built packages (dist/).
beforeAll(() => buildPackages(['core', 'redis', 'axios', 'msw']), 180_000);

describe('example: concurrent-runs (needs Redis: REDIS_URL, default local)', () => {
  it('two processes at once: bare creates every invoice twice, oncely + Redis once', async () => {
    const lines: string[] = [];
    const { bare, oncely } = await run({ customers: 10, log: (line) => lines.push(line) });

    expect(bare).toMatchObject({ invoices: 20, duplicated: 10 });
    expect(oncely).toMatchObject({ invoices: 10, duplicated: 0 });
    // Whatever the interleaving, each invoice was sent by exactly one process and replayed to the other.
    const sent = oncely.perProcess.reduce((sum, p) => sum + p.sent, 0);
    const replayed = oncely.perProcess.reduce((sum, p) => sum + p.replayed, 0);
    expect({ sent, replayed }).toEqual({ sent: 10, replayed: 10 });
    expect(lines).toHaveLength(2);
  });
});
