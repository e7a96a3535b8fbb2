// Builds workspace packages (`packages/<dir>`) for child processes, which run dist/: each one whose
// dist/ is older than its src/, in the order given (a package after those it imports). Runs the
// workspace's own TypeScript with this Node, so it needs no pnpm on PATH.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');

/** @param {string[]} dirs */
export function buildPackages(dirs) {
  for (const dir of dirs) {
    const pkg = join(root, 'packages', dir);
    if (!isStale(pkg)) continue;
    execFileSync(process.execPath, [tsc, '-p', join(pkg, 'tsconfig.build.json')], { stdio: 'inherit' });
  }
}

/** Whether `packages/<dir>`'s dist/ is missing or older than its src/. @param {string} pkg */
export function isStale(pkg) {
  let built;
  try {
    built = statSync(join(pkg, 'dist', 'index.js')).mtimeMs;
  } catch {
    return true;
  }
  return newest(join(pkg, 'src')) > built;
}

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}
