/**
 * `pnpm bench [--quick] [--only=1,2,…] [--update | --out=path.md]`: runs the scenarios in one
 * process and writes the report to `.tmp/bench/RESULTS.md` (untracked); `--update` rewrites the
 * committed bench/RESULTS.md and bench/ratios.svg instead (a full run, for the record). The downstream HTTP server runs in a child process and
 * a private redis-server on a free port; both are stopped at the end, on error and on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCleanup } from './lib/cleanup.js';
import { createContext } from './lib/context.js';
import { startDownstream } from './lib/http-server.js';
import { startRedis } from './lib/redis-server.js';
import { type Machine, renderMarkdown, renderSvg, type Section, section } from './lib/report.js';
import { freshWrites } from './scenarios/s1-fresh.js';
import { replays } from './scenarios/s2-replay.js';
import { roundTrips } from './scenarios/s3-roundtrips.js';
import { hotKey } from './scenarios/s4-hotkey.js';
import { throughput } from './scenarios/s5-throughput.js';
import { derivation } from './scenarios/s6-derivation.js';
import { plugins } from './scenarios/s7-plugins.js';
import { network } from './scenarios/s8-network.js';
import { sse } from './scenarios/s9-sse.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .map((x) => x.trim());
const outArg = args.find((a) => a.startsWith('--out='))?.slice('--out='.length);
const update = args.includes('--update');

const scenarios: Array<
  [string, (ctx: Awaited<ReturnType<typeof createContext>>) => Promise<Section | Section[]>]
> = [
  ['1', freshWrites],
  ['2', replays],
  ['3', roundTrips],
  ['4', hotKey],
  ['5', throughput],
  ['6', derivation],
  ['7', plugins],
  ['8', network],
  ['9', sse],
];

const started = Date.now();
const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

function versionOf(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    let dir = require.resolve(name);
    // climb to the package.json of the package itself
    for (;;) {
      const candidate = `${dir.replace(/\/[^/]*$/, '')}`;
      if (candidate === dir) break;
      dir = candidate;
      try {
        const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (pkg.name === name) return pkg.version ?? '?';
      } catch {}
    }
  } catch {}
  return 'not installed';
}

/** The commit measured, and whether packages/ differed from it (the bench runs the sources as they are). */
function codeVersion(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '../packages'], {
      encoding: 'utf8',
    }).trim();
    return `${head}${dirty ? ' (packages/ had uncommitted changes)' : ''}, run from the TypeScript sources through tsx`;
  } catch {
    return 'unknown';
  }
}

async function main() {
  log(`oncely bench (${quick ? 'quick' : 'full'})`);
  const [server, redis] = await Promise.all([startDownstream(), startRedis()]);
  log(`downstream ${server.base}, redis-server ${redis.version} on port ${redis.port}`);
  const ctx = await createContext(quick, server, redis, log);
  const sections: Section[] = [];
  try {
    for (const [id, run] of scenarios) {
      if (only && !only.includes(id)) continue;
      await redis.admin.flushall();
      const result = await run(ctx);
      sections.push(...(Array.isArray(result) ? result : [result]));
    }
  } finally {
    await ctx.closeAll();
    server.stop();
    await redis.stop();
  }
  const cpus = os.cpus();
  const machine: Machine = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    mode: `${quick ? '--quick' : 'full'}${only ? ` --only=${only.join(',')}` : ''}`,
    wall: `${((Date.now() - started) / 1000).toFixed(1)} s`,
    code: codeVersion(),
    packages: [
      ['redis-server', redis.version],
      ...['@oncely/core', '@oncely/redis', '@oncely/axios', '@oncely/got', '@oncely/undici'].map(
        (name) => [name, versionOf(name)] as [string, string],
      ),
      ...['axios', 'got', 'undici', 'ioredis', '@redis/client', '@aws-lambda-powertools/idempotency'].map(
        (name) => [name, versionOf(name)] as [string, string],
      ),
    ],
  };
  if (ctx.failures.size) {
    const failures = section('failures', 'Failed operations');
    failures.tables.push({
      header: ['scenario: variant', 'failed operations', 'first error'],
      rows: [...ctx.failures].map(([key, f]) => [key, String(f.count), f.message]),
    });
    failures.notes.push('Failed operations are not timed; throughput counts them in the wall time.');
    sections.push(failures);
  }
  const here = fileURLToPath(new URL('..', import.meta.url));
  // The committed report changes only on purpose: a quick run must not dirty the tree.
  const mdPath = outArg ?? (update ? `${here}RESULTS.md` : `${here}../.tmp/bench/RESULTS.md`);
  const svgName = 'ratios.svg';
  mkdirSync(dirname(mdPath), { recursive: true });
  const ratios = sections.flatMap((s) => s.ratios);
  writeFileSync(
    mdPath.replace(/[^/]*$/, svgName),
    renderSvg(ratios, `oncely bench ratios (${machine.date}, ${machine.mode})`),
  );
  writeFileSync(mdPath, renderMarkdown(machine, sections, svgName));
  log(`wrote ${mdPath}`);
}

main().then(
  () => {
    runCleanup();
    process.exit(0);
  },
  (error) => {
    console.error(error);
    runCleanup();
    process.exit(1);
  },
);
