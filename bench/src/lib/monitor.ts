import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { commandStats, delta } from './redis-server.js';

const OWN = new Set(['info', 'ping', 'flushall', 'monitor', 'select', 'client']);

export interface Counted {
  /** Commands sent by clients (each one a round trip when nothing is pipelined), by name. */
  topLevel: Map<string, number>;
  /** `INFO commandstats` deltas: top-level commands plus those run inside Lua scripts. */
  commandstats: Map<string, number>;
}

/**
 * Counts what `run` sends to Redis. `INFO commandstats` gives every command executed, including
 * the ones a Lua script calls; a MONITOR connection tells which came from a client (a round trip)
 * and which from a script (`lua`). MULTI … EXEC counts as one round trip.
 */
export async function countCommands(port: number, admin: Redis, run: () => Promise<void>): Promise<Counted> {
  const monitor = await new Redis({ host: '127.0.0.1', port }).monitor();
  const topLevel = new Map<string, number>();
  let inMulti = false;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const name = String(args[0] ?? '').toLowerCase();
    if (source === 'lua' || OWN.has(name)) return;
    if (inMulti) {
      if (name === 'exec' || name === 'discard') inMulti = false;
      return;
    }
    if (name === 'multi') inMulti = true;
    topLevel.set(name, (topLevel.get(name) ?? 0) + 1);
  });
  await sleep(50);
  const before = await commandStats(admin);
  await run();
  await sleep(100);
  const after = await commandStats(admin);
  monitor.disconnect();
  return { topLevel, commandstats: delta(before, after) };
}

export function perOp(counts: Map<string, number>, ops: number): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${Number((n / ops).toFixed(2))}`)
    .join(', ');
}

export function sum(counts: Map<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}
