// Builds the packages only when a dist/ is missing or older than its sources, so `pnpm demo`
// starts at once after `pnpm install` (which builds them) and still picks up source edits.
import { execSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isStale } from './build-packages.mjs';

const stale = readdirSync('packages').filter((name) => isStale(join('packages', name)));
if (stale.length > 0) {
  console.error(`building packages (${stale.join(', ')} changed)…`);
  execSync('pnpm build', { stdio: 'inherit' });
}
