#!/usr/bin/env node
// Packs every package the way it is published and installs the tarballs in fresh npm projects.
//   node scripts/pack-smoke.mjs          (root: `pnpm test:packages`)
//
// 1. `pnpm pack` per package (its `prepack` builds; pnpm rewrites `workspace:` ranges, which a
//    plain `npm pack` would ship verbatim). Each tarball must hold dist/, LICENSE, README.md and no
//    `workspace:` range.
// 2. publint and @arethetypeswrong/cli (pinned below) on every tarball. attw runs with
//    `--profile node16 --ignore-rules cjs-resolves-to-esm`: the packages are ESM-only with a
//    `default` condition on the ESM build, and `require()` of them is supported on Node ≥ 20.19
//    (require(esm), see packages/core/README.md). attw's default (strict) profile reports that as
//    an error and also checks node10 resolution, which has no exports support. The node16 profile
//    still checks that a CommonJS importer resolves to our types; only the "require resolves to
//    ESM" rule, which is the documented stance, is ignored.
// 3. Two fresh npm projects (`npm install`, no --legacy-peer-deps, so a peer range npm refuses
//    fails here): `newest` and `lowest` peers (PROJECTS below). In each: an ESM and a CJS
//    (`require`) smoke (a local HTTP server; per plugin the same POST twice through the guard must
//    reach the server once), and `tsc` on a .ts file importing every package, with
//    moduleResolution node16 and bundler. Smokes run on the machine's Node and on Node 24 (got ≥ 15,
//    undici 8 and msw 3 need Node ≥ 22.19), from the npm registry's node-<os>-<arch>@24 package,
//    cached under .tmp/node-24 (as scripts/node-matrix.mjs does).
// Prints a table and exits 1 on any failure. Keeps the temp dir with KEEP=1.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PUBLINT = 'publint@0.3.25';
const ATTW = '@arethetypeswrong/cli@0.18.5';
const ATTW_ARGS = ['--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii'];

/** Peer versions per project; `nodes`: which Node lines run the smokes ('machine' = this Node). */
const PROJECTS = {
  newest: {
    deps: {
      got: '16',
      undici: '8',
      msw: '3',
      ioredis: '6',
      axios: '*',
      vitest: '*',
      typescript: '*',
      '@types/node': '24',
    },
    nodes: ['24'],
  },
  lowest: {
    deps: {
      got: '14.6.1',
      undici: '7.11.0',
      msw: '2.10.0',
      ioredis: '5.0.3',
      axios: '1.5.0',
      vitest: '3.0.0',
      typescript: '5.9.3',
      '@types/node': '20.19.0',
    },
    nodes: ['machine', '24'],
  },
};

/** Pack order: a package after the ones it builds against. */
const PACKAGES = ['core', 'redis', 'msw', 'axios', 'got', 'undici', 'cli'];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const PNPM = ['--yes', rootPkg.packageManager];
const work = mkdtempSync(join(tmpdir(), 'oncely-pack-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
const started = Date.now();
/** @type {{ subject: string, check: string, ok: boolean }[]} */
const results = [];

function run(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    child.on('error', (error) => resolve({ code: -1, out: `${out}${error.message}` }));
    child.on('close', (code) => resolve({ code, out, stdout }));
  });
}

function record(subject, check, ok, detail = '') {
  results.push({ subject, check, ok });
  console.log(`pack-smoke: ${subject} ${check}: ${ok ? 'ok' : 'FAILED'}`);
  if (!ok && detail) console.log(indent(detail.trim().split('\n').slice(-40).join('\n')));
}

const indent = (text) => text.replace(/^/gm, '    ');

/**
 * skipLibCheck is off, so our own .d.ts files are checked as a user's tsc sees them. Errors inside
 * other libraries' declarations (ioredis 6 imports the untyped `redis-errors`) are printed, not counted.
 */
function tscResult({ code, out }) {
  if (code === 0) return { ok: true };
  const errors = out.split('\n').filter((line) => /^\S+\(\d+,\d+\): error /.test(line));
  const ours = errors.filter(
    (line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/@oncely/'),
  );
  const ok = errors.length > 0 && ours.length === 0;
  return ok
    ? { ok, note: `not counted (other libraries' declarations):\n${errors.join('\n')}` }
    : { ok, detail: out };
}

// --- 1. pack ---------------------------------------------------------------------------------
const files = {};
for (const name of PACKAGES) {
  const dir = join(root, 'packages', name);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const problems = [];
  if (!manifest.scripts?.prepack) problems.push('no prepack script: a publish would ship a stale dist/');
  const packed = await run('npx', [...PNPM, 'pack', '--pack-destination', tarballs], { cwd: dir });
  const file = join(tarballs, `${manifest.name.replace('@', '').replace('/', '-')}-${manifest.version}.tgz`);
  if (packed.code !== 0 || !existsSync(file)) {
    record(name, 'pack', false, packed.out);
    continue;
  }
  files[manifest.name] = file;
  const listing = (await run('tar', ['-tzf', file])).out.split('\n');
  for (const needed of [
    'package/dist/index.js',
    'package/dist/index.d.ts',
    'package/LICENSE',
    'package/README.md',
  ]) {
    if (!listing.includes(needed)) problems.push(`missing ${needed}`);
  }
  const packedManifest = (await run('tar', ['-xzOf', file, 'package/package.json'])).out;
  if (packedManifest.includes('workspace:')) problems.push('package.json still has a workspace: range');
  record(name, 'pack', problems.length === 0, problems.join('\n'));
}

// --- 2. publint, attw (warm npx's cache once, then in parallel) --------------------------------
const lints = Object.entries(files).flatMap(([pkg, file]) => [
  { pkg, check: 'publint', args: [PUBLINT, file, '--strict'] },
  { pkg, check: 'attw', args: [ATTW, file, ...ATTW_ARGS] },
]);
await Promise.all([run('npx', ['--yes', PUBLINT, '--help']), run('npx', ['--yes', ATTW, '--help'])]);
const linted = Promise.all(
  lints.map(async ({ pkg, check, args }) => ({ pkg, check, ...(await run('npx', ['--yes', ...args])) })),
);

// --- 3. projects -------------------------------------------------------------------------------
const nodeBins = { machine: process.execPath };
async function nodeBin(line) {
  if (nodeBins[line]) return nodeBins[line];
  const dir = join(root, '.tmp', `node-${line}`);
  const pkg = `node-${process.platform}-${process.arch}`;
  const bin = join(dir, 'node_modules', pkg, 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const installed = await run('npm', [
      'install',
      '--prefix',
      dir,
      '--no-audit',
      '--no-fund',
      '--no-save',
      `${pkg}@${line}`,
    ]);
    if (installed.code !== 0) throw new Error(`installing ${pkg}@${line}: ${installed.out}`);
  }
  nodeBins[line] = bin;
  return bin;
}

async function project(name, { deps, nodes }) {
  const dir = join(work, name);
  mkdirSync(dir);
  const dependencies = { ...deps };
  for (const [pkg, file] of Object.entries(files)) dependencies[pkg] = `file:${file}`;
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `oncely-smoke-${name}`, private: true, type: 'module', dependencies }, null, 2),
  );
  const installed = await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir });
  const lines = [
    `install ${Object.entries(deps)
      .map(([pkg, range]) => `${pkg}@${range}`)
      .join(' ')}`,
  ];
  if (installed.code !== 0) return [{ check: 'npm install', ok: false, detail: installed.out }];
  const versions = JSON.parse(
    (await run('npm', ['ls', '--json', '--depth=0'], { cwd: dir })).stdout,
  ).dependencies;
  lines.push(
    `installed ${Object.keys(deps)
      .map((pkg) => `${pkg}@${versions[pkg]?.version}`)
      .join(' ')}`,
  );
  const checks = [{ check: 'npm install', ok: true, detail: lines.join('\n') }];

  writeFileSync(join(dir, 'smoke.mjs'), smokeSource('esm'));
  writeFileSync(join(dir, 'smoke.cjs'), smokeSource('cjs'));
  writeFileSync(join(dir, 'check.ts'), tsCheckSource());
  for (const [resolution, module] of [
    ['node16', 'node16'],
    ['bundler', 'esnext'],
  ]) {
    writeFileSync(
      join(dir, `tsconfig.${resolution}.json`),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          module,
          moduleResolution: resolution,
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = await run(
      process.execPath,
      [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `tsconfig.${resolution}.json`],
      {
        cwd: dir,
      },
    );
    checks.push({ check: `ts ${resolution}`, ...tscResult(tsc) });
  }
  for (const line of nodes) {
    const bin = await nodeBin(line);
    const version = (await run(bin, ['--version'])).out.trim();
    for (const [kind, file] of [
      ['esm', 'smoke.mjs'],
      ['cjs', 'smoke.cjs'],
    ]) {
      const smoke = await run(bin, [file], { cwd: dir });
      checks.push({ check: `${kind} ${version}`, ok: smoke.code === 0, detail: smoke.out });
    }
  }
  return checks;
}

const projects = await Promise.all(
  Object.entries(PROJECTS).map(async ([name, spec]) => ({ name, checks: await project(name, spec) })),
);
for (const { pkg, check, code, out } of await linted) {
  record(pkg.replace('@oncely/', ''), check, code === 0, out);
}
for (const { name, checks } of projects) {
  for (const { check, ok, detail, note } of checks) {
    record(name, check, ok, ok ? '' : detail);
    if (check === 'npm install' && ok) console.log(indent(detail));
    if (note) console.log(indent(note));
  }
}

// --- table ---------------------------------------------------------------------------------------
const subjects = [...new Set(results.map((r) => r.subject))];
const columns = [...new Set(results.map((r) => r.check))];
const cell = (subject, check) => {
  const found = results.filter((r) => r.subject === subject && r.check === check);
  if (found.length === 0) return '';
  return found.every((r) => r.ok) ? 'ok' : 'FAILED';
};
const rows = [['', ...columns], ...subjects.map((s) => [s, ...columns.map((c) => cell(s, c))])];
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
console.log('');
for (const row of rows) console.log(row.map((text, i) => text.padEnd(widths[i])).join(' | '));
const failed = results.filter((r) => !r.ok).length;
console.log(
  `\npack-smoke: ${failed === 0 ? 'all ok' : `${failed} FAILED`} in ${Math.round((Date.now() - started) / 1000)} s (${work})`,
);
if (process.env.KEEP !== '1') rmSync(work, { recursive: true, force: true });
process.exit(failed === 0 ? 0 : 1);

// --- the files written into each project -------------------------------------------------------

function smokeSource(kind) {
  const modules = {
    core: '@oncely/core',
    plugin: '@oncely/core/plugin',
    axiosPlugin: '@oncely/axios',
    gotPlugin: '@oncely/got',
    undiciPlugin: '@oncely/undici',
    redisPkg: '@oncely/redis',
    mswPkg: '@oncely/msw',
    cliPkg: '@oncely/cli',
    axiosMod: 'axios',
    gotMod: 'got',
    undici: 'undici',
    ioredis: 'ioredis',
    http: 'node:http',
  };
  const header = Object.entries(modules)
    .map(([local, specifier]) =>
      kind === 'esm'
        ? `import * as ${local} from '${specifier}';`
        : `const ${local} = require('${specifier}');`,
    )
    .join('\n');
  return `${header}
// ${kind} smoke: per plugin the same POST twice through the guard, one request at the server.
const hits = new Map();
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const n = (hits.get(req.url) ?? 0) + 1;
    hits.set(req.url, n);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, n }));
  });
});
const body = { amount: 100, currency: 'eur' };
const fail = [];
const idem = () => core.createIdempotency({});
const def = (mod) => mod.default ?? mod;

async function twice(name, base, post) {
  const path = '/' + name;
  try {
    const first = await post(base + path);
    const second = await post(base + path);
    const n = hits.get(path) ?? 0;
    const ok = n === 1 && first.n === 1 && second.n === 1;
    console.log(name + ': server saw ' + n + ' request(s); responses ' + JSON.stringify([first, second]));
    if (!ok) fail.push(name);
  } catch (error) {
    console.log(name + ': ' + (error && error.stack));
    fail.push(name);
  }
}

async function main() {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = 'http://127.0.0.1:' + server.address().port;

  const axiosClient = axiosPlugin.withIdempotency(def(axiosMod).create(), idem());
  await twice('axios', base, async (url) => (await axiosClient.post(url, body)).data);

  const gotClient = def(gotMod).extend(gotPlugin.idempotency(idem()));
  await twice('got', base, (url) => gotClient.post(url, { json: body }).json());

  const agent = new undici.Agent().compose(undiciPlugin.idempotency(idem()));
  const json = JSON.stringify(body);
  const headers = { 'content-type': 'application/json' };
  await twice('undici', base, async (url) => {
    const res = await undici.request(url, { method: 'POST', body: json, headers, dispatcher: agent });
    return res.body.json();
  });
  await twice('undici-fetch', base, async (url) => {
    const res = await undici.fetch(url, { method: 'POST', body: json, headers, dispatcher: agent });
    return res.json();
  });
  await agent.close();

  // the other packages load and work with their peers
  const others = [
    ['core/plugin', () => typeof plugin.readRequestOptions === 'function'],
    ['cli', () => typeof cliPkg.main === 'function'],
    ['redis', () => {
      const client = new (def(ioredis).Redis ?? def(ioredis))({ lazyConnect: true });
      const store = redisPkg.redisStore({ client });
      client.disconnect();
      return typeof store.reserve === 'function';
    }],
    ['msw', async () => {
      const stripe = mswPkg.stripeLike({ baseUrl: 'https://api.stripe.com' });
      const served = await mswPkg.serve(stripe.handlers, { origin: 'https://api.stripe.com' });
      try {
        const res = await undici.request(served.url + '/v1/charges', {
          method: 'POST',
          body: 'amount=100&currency=eur',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'smoke-1' },
        });
        await res.body.text();
        return res.statusCode === 200;
      } finally {
        await served.close();
      }
    }],
  ];
  for (const [name, check] of others) {
    try {
      const ok = await check();
      console.log(name + ': ' + (ok ? 'ok' : 'unexpected result'));
      if (!ok) fail.push(name);
    } catch (error) {
      console.log(name + ': ' + (error && error.stack));
      fail.push(name);
    }
  }
}

main()
  .catch((error) => fail.push('main: ' + (error && error.stack)))
  .finally(() => {
    server.close();
    if (fail.length > 0) console.log('FAILED: ' + fail.join(', '));
    process.exit(fail.length > 0 ? 1 : 0);
  });
`;
}

function tsCheckSource() {
  return `// Type-checks a user's code against the published declarations of every package.
import { createIdempotency, type Idempotency, memoryStore } from '@oncely/core';
import { findOncelyError, type OncelyRequestOptions } from '@oncely/core/plugin';
import { storeContract, wrapStore } from '@oncely/core/testing';
import { withIdempotency } from '@oncely/axios';
import { idempotency as gotIdempotency, isReplayed, oncely } from '@oncely/got';
import { idempotency as undiciIdempotency, oncelyHeaders } from '@oncely/undici';
import { redisStore } from '@oncely/redis';
import { plainApi, serve, stripeLike } from '@oncely/msw';
import { main } from '@oncely/cli';
import axios from 'axios';
import got from 'got';
import { Agent, request } from 'undici';
import type { Redis } from 'ioredis';

const idem: Idempotency = createIdempotency({ store: memoryStore(), routes: [{ match: 'POST /v1/*', provider: 'stripe' }] });
const options: OncelyRequestOptions = { key: 'order-42' };

export async function useAxios(): Promise<number> {
  const client = withIdempotency(axios.create({ baseURL: 'http://127.0.0.1:1' }), idem);
  const res = await client.post<{ id: string }>('/v1/charges', { amount: 1 }, { oncely: options });
  const id: string = res.data.id;
  return id.length + (res.oncely?.replayed === true ? 1 : 0);
}

export async function useGot(): Promise<string> {
  const client = got.extend({ prefixUrl: 'http://127.0.0.1:1' }, gotIdempotency(idem));
  const res = await client.post('v1/charges', { json: { amount: 1 }, context: oncely(options) });
  const data = await client.post('v1/charges', { json: { amount: 1 } }).json<{ id: string }>();
  const direct = await got.extend(gotIdempotency(idem)).post('http://127.0.0.1:1/v1/x').json<{ id: string }>();
  return res.body + data.id + direct.id + String(isReplayed(res));
}

export async function useUndici(): Promise<unknown> {
  const agent = new Agent().compose(undiciIdempotency(idem));
  const res = await request('http://127.0.0.1:1/v1/charges', { method: 'POST', body: '{}', dispatcher: agent, oncely: options });
  return [await res.body.json(), oncelyHeaders({ key: 'k' })];
}

export function useRest(): unknown {
  const store = redisStore({ client: {} as Redis });
  const stripe = stripeLike({ baseUrl: 'https://api.stripe.com' });
  const plain = plainApi({ baseUrl: 'https://tickets.example.com/api' });
  return [store, stripe.handlers, plain.handlers, serve, main, storeContract, wrapStore(memoryStore()), findOncelyError];
}
`;
}
