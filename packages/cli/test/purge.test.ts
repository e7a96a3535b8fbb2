import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, fixture, inFlightRecord } from './support.js';

let f: Fixture;

beforeAll(async () => {
  f = await fixture('purge');
});

afterAll(async () => {
  await f?.close();
});

/**
 * Polls (bounded) until the record has expired: the condition, not a fixed sleep. An undecided
 * record lingers in Redis for the grace past its expiry (so the sweep can report it), read as gone.
 */
async function untilExpired(key: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await f.store.get(key)) !== undefined) {
    if (Date.now() > deadline) throw new Error(`${key} did not expire within 10 s`);
    await delay(20);
  }
}

describe('oncely purge --expired', () => {
  it('runs purgeExpired and prints the count: an unknown record that expired undecided', async () => {
    const empty = await f.run(['purge', '--expired']);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('Purged 0 expired record(s).\n');

    const key = await inFlightRecord(f);
    const { fencingToken } = (await f.store.get(key))!;
    await f.store.markUnknown(key, fencingToken, 'ECONNRESET', 50);
    await untilExpired(key);

    const purged = await f.run(['purge', '--expired']);
    expect(purged.code).toBe(0);
    expect(purged.stdout).toBe('Purged 1 expired record(s).\n');
    expect(purged.stderr).toBe('');
    // Reported once, then gone from Redis too.
    expect(await f.client.exists(`${f.prefix}{${key}}:rec`)).toBe(0);

    const again = await f.run(['purge', '--expired']);
    expect(again.stdout).toBe('Purged 0 expired record(s).\n');
  });

  it.each([
    [['purge'], /purge needs --expired/],
    [['purge', '--all'], /Unknown option '--all'/],
    [['purge', '--expired', 'now'], /purge takes no arguments/],
  ])('%j: exit 1, nothing purged', async (argv, message) => {
    const key = await inFlightRecord(f);
    const { code, stdout, stderr } = await f.run(argv);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(await f.store.get(key)).toBeDefined();
  });
});
