import { PayloadMismatchError } from '@oncely/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { charge, completedRecord, type Fixture, fixture, okSend, unknownRecord } from './support.js';

let f: Fixture;

beforeAll(async () => {
  f = await fixture('override');
});

afterAll(async () => {
  await f?.close();
});

const who = ['--reason', 'amount corrected by finance, ticket FIN-12', '--reviewer', 'alice'];

describe('oncely override', () => {
  it('grants exactly one different payload the key, audited', async () => {
    const options = { key: 'order-42' };
    const key = await completedRecord(f, { amount: 100 }, options);
    await expect(f.idem.execute(charge({ amount: 120 }), okSend(), options)).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );

    const { code, stdout, stderr } = await f.run(['override', key, ...who]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain(`Granted a single-use override on ${key} (completed, revision 0)`);
    expect(stdout).toMatch(
      /^audit: \S+ {2}override-granted {2}reviewer="alice" {2}reason="amount corrected/m,
    );
    const granted = (await f.store.get(key))!;
    expect(granted.overrideGrant).toEqual({
      reason: 'amount corrected by finance, ticket FIN-12',
      reviewer: 'alice',
    });
    expect(granted.audit.at(-1)).toMatchObject({ action: 'override-granted', reviewer: 'alice' });
    const shown = await f.run(['inspect', key]);
    expect(shown.stdout).toMatch(/^override grant\n {2}reviewer\s+alice\n {2}reason\s+amount corrected/m);

    // The grant lets the corrected payload through once …
    const send = okSend('{"id":"ch_2"}');
    const corrected = await f.idem.execute(charge({ amount: 120 }), send, options);
    expect(send.calls).toBe(1);
    expect(corrected.replayed).toBe(false);
    const after = (await f.store.get(key))!;
    expect(after.overrideGrant).toBeUndefined();
    expect(after.revision).toBe(1);
    expect(after.audit.map((entry) => entry.action)).toEqual(['override-granted', 'override']);
    expect(after.audit.at(-1)).toMatchObject({
      reviewer: 'alice',
      reason: 'amount corrected by finance, ticket FIN-12',
    });

    // … and only once.
    const third = okSend();
    await expect(f.idem.execute(charge({ amount: 130 }), third, options)).rejects.toBeInstanceOf(
      PayloadMismatchError,
    );
    expect(third.calls).toBe(0);
  });

  it('notes when it replaces an unused grant', async () => {
    const key = await unknownRecord(f, { amount: 5 }, { key: 'order-43' });
    expect((await f.run(['override', key, '--reason', 'first', '--reviewer', 'bob'])).code).toBe(0);
    const second = await f.run(['override', key, ...who]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('note: this replaces the unused grant by "bob" ("first").');
    expect((await f.store.get(key))!.overrideGrant).toEqual({
      reason: 'amount corrected by finance, ticket FIN-12',
      reviewer: 'alice',
    });
  });

  describe('bad input: exit non-zero, clear message, the record unchanged', () => {
    let key: string;
    beforeAll(async () => {
      key = await completedRecord(f, { amount: 7 }, { key: 'order-44' });
    });

    it.each([
      [['--reviewer', 'alice'], /--reason is required/],
      [['--reason', 'x'], /--reviewer is required/],
      [['--reason', 'x', '--reviewer', ''], /--reviewer must not be empty/],
      [['--reason', '', '--reviewer', 'alice'], /--reason must not be empty/],
      [['--reason'], /Option '--reason <value>' argument missing/],
    ])('%j: exit 1', async (args, message) => {
      const before = await f.stored(key);
      const { code, stdout, stderr } = await f.run(['override', key, ...args]);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
      expect(await f.stored(key)).toEqual(before);
    });

    it('no key: exit 1', async () => {
      const { code, stderr } = await f.run(['override', ...who]);
      expect(code).toBe(1);
      expect(stderr).toContain('override needs a key');
    });

    it('an unknown key: exit 2, nothing created', async () => {
      const { code, stderr } = await f.run(['override', 'cli-test:nope', ...who]);
      expect(code).toBe(2);
      expect(stderr).toContain('No record for key cli-test:nope.');
      expect(await f.store.get('cli-test:nope')).toBeUndefined();
    });
  });
});
