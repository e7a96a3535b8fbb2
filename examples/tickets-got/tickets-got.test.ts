import { describe, expect, it } from 'vitest';
import { run } from './main.mjs';

describe('example: tickets-got', () => {
  it('bare got retries duplicate tickets; oncely reconciles by ref and opens each ticket once', async () => {
    const lines: string[] = [];
    const { bare, oncely } = await run({ incidents: 20, seed: 3, log: (line) => lines.push(line) });

    expect(bare.lostResponses + bare.errors5xx).toBeGreaterThan(0);
    expect(bare.duplicated).toBeGreaterThan(0);
    expect(oncely.lostResponses + oncely.errors5xx).toBeGreaterThan(0);
    expect(oncely).toMatchObject({ tickets: 20, duplicated: 0, failed: 0 });
    expect(lines).toHaveLength(2);
  });
});
