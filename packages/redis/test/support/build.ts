import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Builds the given workspace packages (`packages/<dir>`) for child processes, which run dist/,
 * skipping those whose dist/ is newer than every file of their src/.
 */
export async function buildForChildren(root: string, dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const pkg = join(root, 'packages', dir);
    if (!isStale(pkg)) continue;
    await run('pnpm', ['--filter', `./packages/${dir}`, 'build'], { cwd: root });
  }
}

function isStale(pkg: string): boolean {
  let built: number;
  try {
    built = statSync(join(pkg, 'dist', 'index.js')).mtimeMs;
  } catch {
    return true;
  }
  return newest(join(pkg, 'src')) > built;
}

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}
