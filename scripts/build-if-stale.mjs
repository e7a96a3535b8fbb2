// Builds the packages only when a dist/ is missing or older than its sources, so `pnpm demo`
// starts at once after `pnpm install` (which builds them) and still picks up source edits.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const stale = readdirSync('packages').filter((name) => {
  const built = join('packages', name, 'dist', 'index.js');
  return !existsSync(built) || newest(join('packages', name, 'src')) > statSync(built).mtimeMs;
});
if (stale.length > 0) {
  console.error(`building packages (${stale.join(', ')} changed)…`);
  execSync('pnpm build', { stdio: 'inherit' });
}
