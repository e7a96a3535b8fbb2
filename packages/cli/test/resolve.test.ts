import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResponseFile } from '../src/index.js';
import {
  charge,
  completedRecord,
  type Fixture,
  fixture,
  inFlightRecord,
  leaseExpiredRecord,
  neverSend,
  okSend,
  unknownRecord,
} from './support.js';

let f: Fixture;
let goodFile: string;
let order = 0;

beforeAll(async () => {
  f = await fixture('resolve');
  goodFile = f.file(
    'r.json',
    JSON.stringify({
      status: 201,
      headers: { 'Content-Type': 'application/json' },
      body: { id: 'ch_manual', paid: true },
    }),
  );
});

afterAll(async () => {
  await f?.close();
});

/** A fresh request body per test, so each gets its own key. */
function nextBody(): Record<string, unknown> {
  order++;
  return { amount: 100, order: `r${order}` };
}

const who = ['--reason', 'checked the Stripe dashboard: ch_manual exists', '--reviewer', 'alice'];

describe('oncely resolve --as completed', () => {
  it('records the response, audited; the next identical request replays it and sends nothing', async () => {
    const body = nextBody();
    const key = await unknownRecord(f, body);
    const before = (await f.store.get(key))!;
    const { code, stdout, stderr } = await f.run([
      'resolve',
      key,
      '--as',
      'completed',
      '--response-file',
      goodFile,
      ...who,
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`Resolved ${key} as completed (HTTP 201, 30 bytes)`);
    expect(stdout).toMatch(
      /^audit: \S+ {2}resolved-completed {2}reviewer="alice" {2}reason="checked the Stripe/m,
    );

    const after = (await f.store.get(key))!;
    expect(after.status).toBe('completed');
    expect(after.fencingToken).toBeGreaterThan(before.fencingToken);
    expect(after.response).toEqual({
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"id":"ch_manual","paid":true}').toString('base64'),
    });
    expect(after.audit.at(-1)).toMatchObject({
      action: 'resolved-completed',
      reason: 'checked the Stripe dashboard: ch_manual exists',
      reviewer: 'alice',
      detail: 'operator: completed with HTTP 201 (was unknown)',
    });

    const replay = await f.idem.execute(charge(body), neverSend);
    expect(replay.replayed).toBe(true);
    expect(replay.response.status).toBe(201);
    expect(Buffer.from(replay.response.body).toString()).toBe('{"id":"ch_manual","paid":true}');
  });

  it('--ttl sets how long the outcome is kept', async () => {
    const key = await unknownRecord(f, nextBody());
    const start = Date.now();
    const { code } = await f.run([
      'resolve',
      key,
      '--as',
      'completed',
      '--response-file',
      goodFile,
      '--ttl',
      '2h',
      ...who,
    ]);
    expect(code).toBe(0);
    const { expiresAt } = (await f.store.get(key))!;
    expect(expiresAt).toBeGreaterThanOrEqual(start + 2 * 3_600_000 - 1_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 2 * 3_600_000 + 1_000);
    expect(await f.client.pttl(`${f.prefix}{${key}}:rec`)).toBeGreaterThan(3_600_000);
  });

  it('takes a string body and a base64 body as given', async () => {
    const text = f.file('text.json', JSON.stringify({ status: 200, statusText: 'OK', body: 'plain text' }));
    const key = await unknownRecord(f, nextBody());
    expect((await f.run(['resolve', key, '--as', 'completed', '--response-file', text, ...who])).code).toBe(
      0,
    );
    expect((await f.store.get(key))!.response).toEqual({
      status: 200,
      statusText: 'OK',
      headers: {},
      body: Buffer.from('plain text').toString('base64'),
    });

    const bytes = f.file(
      'bytes.json',
      JSON.stringify({ status: 200, bodyBase64: Buffer.from([0, 255, 1]).toString('base64') }),
    );
    const other = await unknownRecord(f, nextBody());
    expect(
      (await f.run(['resolve', other, '--as', 'completed', '--response-file', bytes, ...who])).code,
    ).toBe(0);
    expect((await f.store.get(other))!.response?.body).toBe('AP8B');
  });

  it('resolves an in-flight record whose owner died (lease expired)', async () => {
    const key = await leaseExpiredRecord(f);
    const { code } = await f.run(['resolve', key, '--as', 'completed', '--response-file', goodFile, ...who]);
    expect(code).toBe(0);
    expect((await f.store.get(key))!.status).toBe('completed');
  });
});

describe('oncely resolve --as absent', () => {
  it('frees the key: the next request sends once and completes', async () => {
    const body = nextBody();
    const key = await unknownRecord(f, body);
    const { code, stdout } = await f.run(['resolve', key, '--as', 'absent', ...who]);
    expect(code).toBe(0);
    expect(stdout).toContain(`Resolved ${key} as absent: the record is deleted and the key is free`);
    expect(stdout).toMatch(
      /reconciled {2}reviewer="alice" {2}reason="checked the Stripe.*detail="operator: absent, key freed \(was unknown\)"/,
    );
    expect(await f.store.get(key)).toBeUndefined();

    const send = okSend();
    const again = await f.idem.execute(charge(body), send);
    expect(send.calls).toBe(1);
    expect(again.replayed).toBe(false);
    expect((await f.store.get(key))!.status).toBe('completed');
  });
});

describe('refused without --force: exit 4, nothing changed', () => {
  it('an in-flight record whose owner holds the lease', async () => {
    const key = await inFlightRecord(f);
    const before = await f.stored(key);
    const { code, stdout, stderr } = await f.run(['resolve', key, '--as', 'absent', ...who]);
    expect(code).toBe(4);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/refused: .* is in flight: its owner holds the lease for \S+ more/);
    expect(await f.stored(key)).toEqual(before);

    const forced = await f.run([
      'resolve',
      key,
      '--as',
      'completed',
      '--response-file',
      goodFile,
      '--force',
      ...who,
    ]);
    expect(forced.code).toBe(0);
    expect((await f.store.get(key))!.status).toBe('completed');
  });

  it('a completed record', async () => {
    const key = await completedRecord(f, nextBody());
    const before = await f.stored(key);
    const { code, stderr } = await f.run([
      'resolve',
      key,
      '--as',
      'completed',
      '--response-file',
      goodFile,
      ...who,
    ]);
    expect(code).toBe(4);
    expect(stderr).toContain('is already completed (HTTP 201): resolving would replace the recorded outcome');
    expect(await f.stored(key)).toEqual(before);

    const forced = await f.run(['resolve', key, '--as', 'absent', '--force', ...who]);
    expect(forced.code).toBe(0);
    expect(await f.store.get(key)).toBeUndefined();
  });
});

describe('bad input: a clear message, non-zero exit, the record unchanged', () => {
  let key: string;
  beforeAll(async () => {
    key = await unknownRecord(f, nextBody());
  });

  const file = (name: string, content: string) => () => f.file(name, content);
  const cases: [string, () => string[], RegExp][] = [
    ['no --reason', () => ['--as', 'absent', '--reviewer', 'alice'], /--reason is required/],
    [
      'blank --reason',
      () => ['--as', 'absent', '--reason', '  ', '--reviewer', 'alice'],
      /--reason must not be empty/,
    ],
    ['no --reviewer', () => ['--as', 'absent', '--reason', 'x'], /--reviewer is required/],
    ['no --as', () => who, /--as is required: --as completed or --as absent/],
    ['--as maybe', () => ['--as', 'maybe', ...who], /--as must be 'completed' or 'absent', got 'maybe'/],
    ['completed without a file', () => ['--as', 'completed', ...who], /--as completed needs --response-file/],
    [
      'absent with a file',
      () => ['--as', 'absent', '--response-file', goodFile, ...who],
      /--response-file is only for --as completed/,
    ],
    [
      'bad --ttl',
      () => ['--as', 'completed', '--response-file', goodFile, '--ttl', 'soon', ...who],
      /--ttl must be a duration/,
    ],
    [
      '--ttl over 90d',
      () => ['--as', 'completed', '--response-file', goodFile, '--ttl', '91d', ...who],
      /at most 90d/,
    ],
    [
      'a missing file',
      () => ['--as', 'completed', '--response-file', '/nonexistent/r.json', ...who],
      /cannot read response file \/nonexistent\/r\.json: no such file/,
    ],
  ];
  const files: [string, string, RegExp][] = [
    ['not JSON', '{"status": 201,', /not valid JSON/],
    ['an array', '[201]', /not a JSON object/],
    ['no status', '{"body": "x"}', /"status" is missing/],
    ['status 42', '{"status": 42}', /"status" must be an integer from 100 to 599, got 42/],
    ['status as text', '{"status": "201"}', /"status" must be an integer from 100 to 599, got "201"/],
    ['a typo', '{"status": 201, "header": {}}', /unknown field\(s\) "header"/],
    ['headers as a list', '{"status": 201, "headers": ["a"]}', /"headers" must be an object/],
    [
      'a numeric header',
      '{"status": 201, "headers": {"x-n": 1}}',
      /header "x-n" must be a string or an array of strings/,
    ],
    [
      'a credential header',
      '{"status": 201, "headers": {"Set-Cookie": "s=1"}}',
      /header "Set-Cookie" is never stored/,
    ],
    [
      'a CR LF in a header value',
      '{"status": 201, "headers": {"X-Note": "a\\r\\nSet-Cookie: evil=1"}}',
      /header "X-Note" holds CR, LF or NUL/,
    ],
    ['a NUL in a header value', '{"status": 201, "headers": {"X-Note": "a\\u0000b"}}', /holds CR, LF or NUL/],
    [
      'body and bodyBase64',
      '{"status": 201, "body": "a", "bodyBase64": "YQ=="}',
      /give "body" or "bodyBase64", not both/,
    ],
    ['bad base64', '{"status": 201, "bodyBase64": "%%%"}', /"bodyBase64" must be a base64 string/],
  ];
  for (const [name, content, message] of files) {
    cases.push([
      `a file with ${name}`,
      () => ['--as', 'completed', '--response-file', file(`${name}.json`, content)(), ...who],
      message,
    ]);
  }

  it.each(cases)('%s', async (_name, args, message) => {
    const before = await f.stored(key);
    const { code, stdout, stderr } = await f.run(['resolve', key, ...args()]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).toContain('usage: oncely resolve');
    expect(await f.stored(key)).toEqual(before);
  });

  it('an unknown key: exit 2, nothing created', async () => {
    const missing = 'cli-test:0000';
    const { code, stderr } = await f.run([
      'resolve',
      missing,
      '--as',
      'completed',
      '--response-file',
      goodFile,
      ...who,
    ]);
    expect(code).toBe(2);
    expect(stderr).toContain('No record for key cli-test:0000.');
    expect(await f.store.get(missing)).toBeUndefined();
  });
});

describe('parseResponseFile', () => {
  it('adds a JSON content type for JSON bodies only, keeps a given one, reads null as empty', () => {
    expect(parseResponseFile('{"status": 200, "body": [1]}').headers).toEqual({
      'content-type': 'application/json',
    });
    expect(
      parseResponseFile('{"status": 200, "headers": {"Content-Type": "application/vnd+json"}, "body": {}}')
        .headers,
    ).toEqual({ 'content-type': 'application/vnd+json' });
    expect(parseResponseFile('{"status": 204, "body": null}')).toEqual({
      status: 204,
      headers: {},
      body: '',
    });
    expect(parseResponseFile('{"status": 200, "headers": {"x-a": ["1", "2"]}}').headers).toEqual({
      'x-a': ['1', '2'],
    });
  });

  it('refuses bodies too large to replay', () => {
    const big = JSON.stringify({ status: 200, body: 'x'.repeat(1024 * 1024 + 1) });
    expect(() => parseResponseFile(big, 'big.json')).toThrow(
      /malformed response file big\.json: the body is 1048577 bytes/,
    );
  });
});
