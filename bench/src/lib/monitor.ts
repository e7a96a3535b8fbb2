import { setTimeout as sleep } from 'node:timers/promises';

import { Redis } from 'ioredis';
import { commandStats, delta } from './redis-server.js';

const OWN = new Set(['info', 'ping', 'flushall', 'monitor', 'select', 'client']);

export interface Counted {
  /** Commands sent by clients per operation (each one a round trip when nothing is pipelined), by name. */
  topLevel: Map<string, number>;
  /** `INFO commandstats` deltas per operation: top-level commands plus those run inside Lua scripts. */
  commandstats: Map<string, number>;
  /**
   * Server time (µs per operation) of the top-level commands; a script's time already includes the commands it
   * runs, so those are not added twice.
   */
  serverUsec: number;
}

/**
 * Counts what `run(from, to)` sends to Redis, in two passes over different operations:
 * 1. `INFO commandstats` deltas alone over `[0, ops)`: every command executed (including those a Lua
 *    script calls) and the server's time;
 * 2. a MONITOR connection over `[ops, ops + probe)`, which tells the commands a client sent (round
 *    trips) from those a script ran (`lua`). MULTI … EXEC counts as one round trip. MONITOR slows
 *    the server down, so the timing comes from pass 1 only.
 */
export async function countCommands(
  port: number,
  admin: Redis,
  ops: number,
  probe: number,
  run: (from: number, to: number) => Promise<void>,
): Promise<Counted> {
  const before = await commandStats(admin);
  await run(0, ops);
  const after = await commandStats(admin);
  const all = delta(before, after);

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
  await run(ops, ops + probe);
  await sleep(100);
  monitor.disconnect();

  const commandstats = new Map<string, number>();
  for (const [name, n] of all) if (!name.startsWith('usec:')) commandstats.set(name, n / ops);
  let serverUsec = 0;
  for (const name of topLevel.keys()) serverUsec += all.get(`usec:${name}`) ?? 0;
  const perOpTop = new Map([...topLevel].map(([name, n]) => [name, n / probe]));
  return { topLevel: perOpTop, commandstats, serverUsec: serverUsec / ops };
}

export function perOp(counts: Map<string, number>): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${Number(n.toFixed(2))}`)
    .join(', ');
}

export function sum(counts: Map<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return Number(total.toFixed(2));
}
