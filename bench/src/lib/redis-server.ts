import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { onCleanup } from './cleanup.js';

export interface RedisServer {
  port: number;
  url: string;
  version: string;
  /** An admin connection used only for INFO/FLUSHALL (its own INFO calls are left out of the counts). */
  admin: Redis;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a private redis-server on a free loopback port: no persistence, temp dir, killed at exit. */
export async function startRedis(): Promise<RedisServer> {
  const bin = process.env.REDIS_SERVER ?? 'redis-server';
  const dir = mkdtempSync(join(tmpdir(), 'oncely-bench-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = onCleanup(kill);
  const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  for (let i = 0; ; i++) {
    try {
      await admin.connect();
      await admin.ping();
      break;
    } catch (error) {
      if (child.exitCode !== null || i > 100) {
        kill();
        throw new Error(`redis-server did not start on port ${port}: ${String(error)}`);
      }
      admin.disconnect();
      await sleep(50);
    }
  }
  let version = 'unknown';
  try {
    version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? version;
  } catch {}
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    version,
    admin,
    async stop() {
      admin.disconnect();
      kill();
      unregister();
    },
  };
}

/** `cmdstat_<name>` → calls, from `INFO commandstats`; the key `usec:<name>` holds its server time. */
export async function commandStats(admin: Redis): Promise<Map<string, number>> {
  const text = await admin.info('commandstats');
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (m) {
      out.set(m[1]!, Number(m[2]));
      out.set(`usec:${m[1]!}`, Number(m[3]));
    }
  }
  return out;
}

/** Commands that are the bench's own bookkeeping, not the library's. */
const OWN = new Set(['info', 'ping', 'flushall', 'config|resetstat', 'monitor', 'client|setname']);

export function delta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, calls] of after) {
    if (OWN.has(name.replace(/^usec:/, ''))) continue;
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) out.set(name, d);
  }
  return out;
}
