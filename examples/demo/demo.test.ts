import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = fileURLToPath(new URL('./demo.mjs', import.meta.url));

/** Runs the demo as a user would (built packages, a real process) and reads its table. */
async function runDemo(env: Record<string, string>) {
  const { stdout } = await run(process.execPath, [demo], {
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  const row = (name: string) => {
    const match = new RegExp(`${name}\\s+(\\d+)\\s+(\\d+)`).exec(stdout);
    if (!match) throw new Error(`no '${name}' row in:\n${stdout}`);
    return { bare: Number(match[1]), oncely: Number(match[2]) };
  };
  return { stdout, charges: row('charges created'), doubled: row('double-charged orders') };
}

describe('pnpm demo', () => {
  it('memory store: bare axios double-charges, oncely charges every order exactly once', async () => {
    const { stdout, charges, doubled } = await runDemo({ REDIS_URL: '' });
    expect(stdout).toContain('embedded memory store');
    expect(doubled.bare).toBeGreaterThan(0);
    expect(doubled.oncely).toBe(0);
    expect(charges.oncely).toBe(30);
  });

  it('REDIS_URL switches to the Redis store with the same result', async () => {
    const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
    const { stdout, doubled, charges } = await runDemo({ REDIS_URL: url });
    expect(stdout).toContain(`Redis (${url})`);
    expect(doubled.bare).toBeGreaterThan(0);
    expect(doubled.oncely).toBe(0);
    expect(charges.oncely).toBe(30);
  });
});
