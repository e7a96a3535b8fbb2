import { beforeAll, describe, expect, it } from 'vitest';
import { buildPackages } from '../../scripts/build-packages.mjs';
import { run } from './main.mjs';

// The job runs as child processes on the built packages (dist/).
beforeAll(() => buildPackages(['core', 'redis', 'undici', 'msw']), 180_000);

describe('example: crash-recovery (needs Redis: REDIS_URL, default local)', () => {
  it('a job killed between the call and the record: the oncely rerun charges nobody twice', async () => {
    const lines: string[] = [];
    const { bare, oncely } = await run({ orders: 5, killAt: 3, log: (line) => lines.push(line) });

    expect(bare).toMatchObject({ killed: true, doubleCharged: 3, charges: 8 });
    expect(oncely).toMatchObject({
      killed: true,
      firstRun: 'killed after 2 orders',
      charges: 5,
      doubleCharged: 0,
    });
    expect(oncely.rerun).toEqual([
      'order-1 200 store-replay',
      'order-2 200 store-replay',
      'order-3 200 provider-replay',
      'order-4 200 sent',
      'order-5 200 sent',
    ]);
    expect(lines).toHaveLength(2);
  });
});
