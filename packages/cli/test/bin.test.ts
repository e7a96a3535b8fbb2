import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../redis/test/support/redis-server.js';
import { type Fixture, fixture, inFlightRecord, REDIS_URL, unknownRecord } from './support.js';

const exec = promisify(execFile);
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(packageDir, 'dist', 'bin.js');

interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node packages/cli/dist/bin.js …` as an operator runs it. */
async function oncely(args: string[], env: Record<string, string> = {}): Promise<BinResult> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      env: { ...process.env, REDIS_URL, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The built bin (and the dist of core and redis it imports) must exist, the bin newer than its sources. */
function checkBuilt(): void {
  const hint = 'build it first: pnpm --filter @oncely/core --filter @oncely/redis --filter @oncely/cli build';
  for (const entry of [
    bin,
    join(packageDir, '../core/dist/index.js'),
    join(packageDir, '../redis/dist/index.js'),
  ]) {
    if (!existsSync(entry)) throw new Error(`${entry} is missing; ${hint}`);
  }
  const built = statSync(bin).mtimeMs;
  const sources = readdirSync(join(packageDir, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(packageDir, 'src', name));
  const stale = sources.filter((path) => statSync(path).mtimeMs > built);
  if (stale.length > 0) throw new Error(`${bin} is older than ${stale.join(', ')}; ${hint}`);
}

let f: Fixture;

beforeAll(async () => {
  checkBuilt();
  f = await fixture('bin');
});

afterAll(async () => {
  await f?.close();
});

// Each child process starts a Node.js of its own: slow on a loaded machine, hence the generous timeout.
describe('the oncely bin (child process, built dist)', { timeout: 120_000 }, () => {
  it('lists, refuses a malformed file, resolves and inspects against REDIS_URL', async () => {
    const key = await unknownRecord(f, { amount: 1, order: 'bin-1' });
    const prefix = ['--key-prefix', f.prefix];

    const listed = await oncely(['list', '--status', 'unknown', '--json', ...prefix]);
    expect(listed.code).toBe(0);
    expect(
      listed.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).key),
    ).toEqual([key]);
    expect(listed.stderr).toContain('1 matching record(s), 1 scanned.');

    const before = await f.stored(key);
    const bad = f.file('bad.json', '{"status": 201, "body": ');
    const refused = await oncely([
      'resolve',
      key,
      '--as',
      'completed',
      '--response-file',
      bad,
      '--reason',
      'checked',
      '--reviewer',
      'alice',
      ...prefix,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`oncely resolve: malformed response file ${bad}: not valid JSON`);
    expect(await f.stored(key)).toEqual(before);

    const good = f.file('good.json', '{"status": 201, "body": {"id": "ch_bin"}}');
    const resolved = await oncely([
      'resolve',
      key,
      '--as=completed',
      `--response-file=${good}`,
      '--reason=provider shows ch_bin',
      '--reviewer=alice',
      ...prefix,
    ]);
    expect(resolved.code).toBe(0);
    expect((await f.store.get(key))!.status).toBe('completed');

    const shown = await oncely(['inspect', key, ...prefix]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/resolved-completed {2}reviewer="alice" {2}reason="provider shows ch_bin"/);
  });

  it('reports progress on stderr every 1000 scanned records, results alone on stdout', async () => {
    for (let batch = 0; batch < 4; batch++) {
      await Promise.all(Array.from({ length: 500 }, () => inFlightRecord(f, 600_000, 'bulk')));
    }
    const { code, stdout, stderr } = await oncely([
      'list',
      '--status',
      'unknown',
      '--namespace',
      'bulk',
      '--key-prefix',
      f.prefix,
    ]);
    expect(code).toBe(0);
    expect(stdout).toBe('No unknown records match.\n');
    expect(stderr).toBe(
      '… scanned 1000 records, 0 matched\n… scanned 2000 records, 0 matched\n0 matching record(s), 2000 scanned.\n',
    );
  });

  it('--redis-url wins over REDIS_URL', async () => {
    const port = await freePort();
    const viaFlag = await oncely(['list', '--key-prefix', f.prefix, '--redis-url', REDIS_URL], {
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    expect(viaFlag.code).toBe(0);
  });

  it('an unknown key: exit 2', async () => {
    const missing = await oncely(['inspect', 'cli-test:missing', '--key-prefix', f.prefix]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('No record for key cli-test:missing.');
  });

  it('Redis not reachable: exit 3, the password never printed', async () => {
    const port = await freePort();
    const down = await oncely(['list'], { REDIS_URL: `redis://user:hunter2@127.0.0.1:${port}` });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain(`cannot reach Redis at redis://user:***@127.0.0.1:${port}`);
    expect(down.stderr).toContain('ECONNREFUSED');
    expect(down.stderr).not.toContain('hunter2');
  });

  it('usage: no command exits 1, --help and --version exit 0', async () => {
    const none = await oncely([]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('usage: oncely <command> [options]');
    const help = await oncely(['resolve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: oncely resolve <key> --as completed --response-file r.json');
    const version = await oncely(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const unknown = await oncely(['delete']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("oncely: unknown command 'delete'");
  });
});
