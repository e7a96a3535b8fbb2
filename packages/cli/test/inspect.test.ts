import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  charge,
  completedRecord,
  type Fixture,
  fixture,
  inFlightRecord,
  leaseExpiredRecord,
  unknownRecord,
} from './support.js';

let f: Fixture;

beforeAll(async () => {
  f = await fixture('inspect');
});

afterAll(async () => {
  await f?.close();
});

describe('oncely inspect', () => {
  it('shows a completed record: fields, fencing, response summary without the body', async () => {
    const key = await completedRecord(f, { amount: 100, order: 'i1' });
    const record = (await f.store.get(key))!;
    const { code, stdout, stderr } = await f.run(['inspect', key]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(new RegExp(`^key\\s+${key}$`, 'm'));
    expect(stdout).toMatch(/^status\s+completed$/m);
    expect(stdout).toMatch(/^method\s+POST$/m);
    expect(stdout).toMatch(/^target\s+https:\/\/api\.example\.test\/v1\/charges$/m);
    expect(stdout).toMatch(new RegExp(`^  fencing token\\s+${record.fencingToken}$`, 'm'));
    expect(stdout).toMatch(/^ {2}lease owner\s+\(none\)$/m);
    expect(stdout).toMatch(/^ {2}status\s+201 Created$/m);
    expect(stdout).toMatch(/^ {2}headers\s+content-type, x-request-id$/m);
    expect(stdout).toMatch(/^ {2}body\s+13 bytes \(print it with --body\)$/m);
    expect(stdout).not.toContain('ch_1');
    expect(stdout).toContain('audit trail (0)');
  });

  it('--body prints the stored body', async () => {
    const key = await completedRecord(f, { amount: 100, order: 'i2' });
    const { code, stdout } = await f.run(['inspect', key, '--body']);
    expect(code).toBe(0);
    expect(stdout).toContain('  --- body (utf8) ---\n{"id":"ch_1"}\n  --- end of body ---');
  });

  it('shows an unknown record and the audit entry that made it unknown', async () => {
    const key = await unknownRecord(f, { amount: 100, order: 'i3' });
    const { code, stdout } = await f.run(['inspect', key]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^status\s+unknown$/m);
    expect(stdout).toContain('audit trail (1)');
    expect(stdout).toMatch(/^ {2}\S+Z {2}unknown {2}token=\d+ {2}detail="ECONNRESET: socket hang up"$/m);
    expect(stdout).toContain('  (none stored)');
  });

  it('shows a live lease and an expired one', async () => {
    const live = await inFlightRecord(f);
    const held = await f.run(['inspect', live]);
    expect(held.stdout).toMatch(/^status\s+in_flight$/m);
    expect(held.stdout).toMatch(/^ {2}lease owner\s+worker-7$/m);
    expect(held.stdout).toMatch(/^ {2}lease until\s+\S+ \(in \S+\) held$/m);

    const dead = await leaseExpiredRecord(f);
    const expired = await f.run(['inspect', dead]);
    expect(expired.stdout).toMatch(
      /^status\s+unknown \(stored as in_flight; its lease expired: the owner stopped\)$/m,
    );
    expect(expired.stdout).toMatch(/^ {2}lease until\s+\S+ \(\S+ ago\) EXPIRED$/m);
  });

  it('--json prints the record with a response summary; the body only with --body', async () => {
    const key = await completedRecord(f, { amount: 100, order: 'i4' });
    const plain = await f.run(['inspect', key, '--json']);
    expect(plain.code).toBe(0);
    const view = JSON.parse(plain.stdout);
    expect(view).toMatchObject({
      key,
      status: 'completed',
      storedStatus: 'completed',
      method: 'POST',
      attempts: 1,
      audit: [],
      response: {
        status: 201,
        statusText: 'Created',
        headerNames: ['content-type', 'x-request-id'],
        bodyBytes: 13,
      },
    });
    expect(view.response.body).toBeUndefined();
    const withBody = JSON.parse((await f.run(['inspect', key, '--json', '--body'])).stdout);
    expect(withBody.response).toMatchObject({ body: '{"id":"ch_1"}', bodyEncoding: 'utf8' });
  });

  it('prints no credentials: the request had an API key and the response a cookie', async () => {
    const request = charge({ amount: 100, order: 'i5' }, { authorization: 'Bearer sk_live_SECRET123' });
    const result = await f.idem.execute(request, async () => ({
      status: 200,
      headers: { 'set-cookie': 'session=COOKIE456', 'content-type': 'text/plain' },
      body: Buffer.from('ok'),
    }));
    const { code, stdout } = await f.run(['inspect', result.key!, '--body']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}headers\s+content-type$/m);
    for (const secret of ['sk_live_SECRET123', 'COOKIE456', 'set-cookie'])
      expect(stdout).not.toContain(secret);
    const json = (await f.run(['inspect', result.key!, '--json', '--body'])).stdout;
    for (const secret of ['sk_live_SECRET123', 'COOKIE456', 'set-cookie']) expect(json).not.toContain(secret);
  });

  describe('bad input', () => {
    it('an unknown key: exit 2 and a clear message', async () => {
      const { code, stdout, stderr } = await f.run(['inspect', 'cli-test:does-not-exist']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain('oncely inspect: No record for key cli-test:does-not-exist.');
      expect(stderr).toContain('--key-prefix');
    });

    it.each([
      [[], /inspect needs a key/],
      [['a', 'b'], /inspect takes one key, got 2/],
      [[''], /inspect needs a non-empty key/],
      [['k', '--verbose'], /Unknown option '--verbose'/],
    ])('%j: exit 1', async (args, message) => {
      const { code, stdout, stderr } = await f.run(['inspect', ...args]);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
    });
  });
});
