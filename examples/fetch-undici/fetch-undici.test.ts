import { describe, expect, it } from 'vitest';
import { run } from './main.mjs';

describe('example: fetch-undici', () => {
  it('undici retry pays twice after lost responses; with the oncely dispatcher each payout once', async () => {
    const lines: string[] = [];
    const { bare, oncely } = await run({
      payouts: 20,
      dropRate: 0.3,
      seed: 11,
      log: (line) => lines.push(line),
    });

    expect(bare.lostResponses).toBeGreaterThan(0);
    expect(bare.doublePaid).toBeGreaterThan(0);
    expect(oncely.lostResponses).toBeGreaterThan(0);
    expect(oncely).toMatchObject({ payouts: 20, doublePaid: 0, failed: 0 });
    expect(oncely.providerReplays).toBe(oncely.lostResponses);
    expect(lines).toHaveLength(2);
  });
});
