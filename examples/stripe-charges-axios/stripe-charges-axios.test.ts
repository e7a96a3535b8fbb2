import { describe, expect, it } from 'vitest';
import { run } from './main.mjs';

describe('example: stripe-charges-axios', () => {
  it('bare axios-retry double-charges after lost responses; with oncely every order is charged once', async () => {
    const lines: string[] = [];
    const { bare, oncely } = await run({
      orders: 20,
      dropRate: 0.3,
      seed: 7,
      log: (line) => lines.push(line),
    });

    expect(bare.lostResponses).toBeGreaterThan(0);
    expect(bare.doubleCharged).toBeGreaterThan(0);
    expect(oncely.lostResponses).toBeGreaterThan(0);
    expect(oncely).toMatchObject({ charges: 20, doubleCharged: 0, failedOrders: 0 });
    expect(oncely.providerReplays).toBe(oncely.lostResponses);
    expect(lines).toHaveLength(2);
  });
});
