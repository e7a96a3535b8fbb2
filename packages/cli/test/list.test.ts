import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { list } from '../src/index.js';
import {
  collector,
  completedRecord,
  type Fixture,
  fixture,
  inFlightRecord,
  leaseExpiredRecord,
  unknownRecord,
} from './support.js';

let f: Fixture;
const keys = { unknown: [] as string[], completed: '', inFlight: '', expired: '', other: '' };

beforeAll(async () => {
  f = await fixture('list');
  keys.unknown.push(await unknownRecord(f, { amount: 100, order: 'u1' }));
  keys.unknown.push(await unknownRecord(f, { amount: 200, order: 'u2' }));
  keys.completed = await completedRecord(f, { amount: 300, order: 'c1' });
  keys.inFlight = await inFlightRecord(f);
  keys.expired = await leaseExpiredRecord(f);
  keys.other = await inFlightRecord(f, 30, 'other-bot');
  await f.store.waitFor(keys.other, 10_000); // lease expired: unknown, in another namespace
});

afterAll(async () => {
  await f?.close();
});

/** The store keys on stdout: table rows or JSON lines. */
function keysIn(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('KEY') && !line.startsWith('No '))
    .map((line) =>
      line.startsWith('{') ? (JSON.parse(line) as { key: string }).key : line.split(/\s+/)[0]!,
    );
}

describe('oncely list', () => {
  it('lists unknown records as a table, including in-flight ones whose owner died', async () => {
    const { code, stdout, stderr } = await f.run(['list', '--status', 'unknown', '--namespace', 'cli-test']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^KEY\s+STATUS\s+METHOD\s+TARGET\s+AGE\s+ATTEMPTS\s+TOKEN$/);
    expect(keysIn(stdout).sort()).toEqual([...keys.unknown, keys.expired].sort());
    const row = stdout.split('\n').find((line) => line.startsWith(keys.unknown[0]!))!;
    expect(row).toMatch(/\sunknown\s+POST\s+https:\/\/api\.example\.test\/v1\/charges\s+\S+\s+1\s+\d+$/);
    expect(stderr).toContain('3 matching record(s), 5 scanned.');
  });

  it('filters by each status', async () => {
    const inFlight = await f.run(['list', '--status', 'in_flight']);
    expect(inFlight.code).toBe(0);
    expect(keysIn(inFlight.stdout)).toEqual([keys.inFlight]);
    const completed = await f.run(['list', '--status', 'completed']);
    expect(keysIn(completed.stdout)).toEqual([keys.completed]);
  });

  it('lists every namespace and status without filters', async () => {
    const { code, stdout } = await f.run(['list']);
    expect(code).toBe(0);
    expect(keysIn(stdout).sort()).toEqual(
      [...keys.unknown, keys.completed, keys.inFlight, keys.expired, keys.other].sort(),
    );
  });

  it('--namespace keeps to one namespace', async () => {
    const { stdout } = await f.run(['list', '--status', 'unknown', '--namespace', 'other-bot']);
    expect(keysIn(stdout)).toEqual([keys.other]);
  });

  it('--json prints one record per line, with the effective status and no response body', async () => {
    const { code, stdout } = await f.run(['list', '--json', '--namespace', 'cli-test']);
    expect(code).toBe(0);
    const records = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toHaveLength(5);
    const byKey = new Map(records.map((r) => [r.key as string, r]));
    expect(byKey.get(keys.expired)).toMatchObject({
      status: 'unknown',
      storedStatus: 'in_flight',
      leaseExpired: true,
    });
    expect(byKey.get(keys.inFlight)).toMatchObject({
      status: 'in_flight',
      leaseOwner: 'worker-7',
      leaseExpired: false,
    });
    const done = byKey.get(keys.completed)!;
    expect(done).toMatchObject({
      status: 'completed',
      method: 'POST',
      attempts: 1,
      response: { status: 201, headerNames: ['content-type', 'x-request-id'], bodyBytes: 13 },
    });
    expect(JSON.stringify(done)).not.toContain('ch_1');
  });

  it('--older-than compares creation times with the store clock', async () => {
    const fresh = await f.run(['list', '--older-than', '1h']);
    expect(fresh.code).toBe(0);
    expect(keysIn(fresh.stdout)).toEqual([]);
    expect(fresh.stdout).toBe('No records match.\n');
    const inTwoHours = () => Date.now() + 2 * 3_600_000;
    const later = await f.run(['list', '--status', 'unknown', '--older-than', '1h'], inTwoHours);
    // Two hours on, every lease has expired as well: all in-flight records count as unknown.
    expect(keysIn(later.stdout).sort()).toEqual(
      [...keys.unknown, keys.inFlight, keys.expired, keys.other].sort(),
    );
  });

  it('--limit stops the scan and says more records match', async () => {
    const { code, stdout, stderr } = await f.run(['list', '--status', 'unknown', '--limit', '1']);
    expect(code).toBe(0);
    expect(keysIn(stdout)).toHaveLength(1);
    expect(stderr).toContain('Stopped at --limit 1: more records match.');
  });

  it('--quiet leaves stderr empty', async () => {
    const { code, stderr } = await f.run(['list', '--quiet']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
  });

  it('reports progress on stderr while scanning (in process, every 2 records)', async () => {
    const stdout = collector();
    const stderr = collector();
    await list(
      { json: true, quiet: false, progressEvery: 2, namespace: 'cli-test' },
      { store: f.store, stdout, stderr, now: Date.now },
    );
    expect(stderr.text.split('\n').filter((line) => line.startsWith('… scanned'))).toEqual([
      '… scanned 2 records, 2 matched',
      '… scanned 4 records, 4 matched',
    ]);
    expect(stdout.text.trim().split('\n')).toHaveLength(5);
  });

  describe('bad input: exit 1, a clear message, nothing listed', () => {
    const cases: [string[], RegExp][] = [
      [['list', '--status', 'bogus'], /unknown status 'bogus': use one of unknown, in_flight, completed/],
      [['list', '--status'], /--status/],
      [['list', '--older-than', '10'], /--older-than needs a unit/],
      [['list', '--older-than', 'ten minutes'], /--older-than must be a duration like/],
      [['list', '--limit', '0'], /--limit must be a positive whole number/],
      [['list', '--namespace', 'cli-test:'], /--namespace takes the namespace without its ':'/],
      [['list', '--colour'], /Unknown option '--colour'/],
      [['list', 'extra'], /list takes no arguments/],
    ];
    it.each(cases)('%j', async (argv, message) => {
      const { code, stdout, stderr } = await f.run(argv);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
      expect(stderr).toContain('usage: oncely list');
    });
  });
});
