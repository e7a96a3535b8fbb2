import { Redis } from 'ioredis';
import { makeBody } from '../lib/bodies.js';
import { bareAxios, powertoolsPost } from '../lib/clients.js';
import type { Context } from '../lib/context.js';
import { countCommands, perOp, sum } from '../lib/monitor.js';
import { type Section, section } from '../lib/report.js';
import { BODY_BYTES } from './s1-fresh.js';

/** 3. Redis commands and round trips per fresh write and per replay. */
export async function roundTrips(ctx: Context): Promise<Section> {
  const s = section('s3', '3. Store round trips per write (Redis `INFO commandstats` deltas)');
  const ops = ctx.n(50, 200);
  const url = (v: string) => `${ctx.server.base}/s3/${v}`;
  const body = (v: string, i: number) => makeBody(`${ctx.runId}-s3-${v}-${i}`, BODY_BYTES);
  const libraries: Array<{ name: string; post: (i: number) => Promise<unknown> }> = [];
  if (ctx.redisStore) {
    // Without copies of completed records, so a replay shows the script's own cost (another process's
    // replay); in the writing process the default copies make it 0 round trips (scenario 2).
    const redis = ctx.oncelyAxios(await ctx.redisIdem({ namespace: 's3r', cacheRecords: 0 }));
    libraries.push({ name: 'oncely + Redis', post: (i) => redis.post(url('redis'), body('redis', i)) });
  } else s.notes.push('oncely + Redis: skipped, `@oncely/redis` has no `redisStore` yet.');
  const pt = powertoolsPost(await ctx.nodeRedis(), bareAxios(), { keyPrefix: `s3-${ctx.runId}` });
  libraries.push({ name: 'Powertools + Redis', post: (i) => pt({ url: url('pt'), body: body('pt', i) }) });
  // The floor of any design with one script per transition: two EVALSHAs carrying reserve's and
  // complete's KEYS and ARGV (same sizes) that do nothing.
  const floor = new Redis({ host: '127.0.0.1', port: ctx.redis.port });
  const empty = String(await floor.script('LOAD', "return {'ok','0'}"));
  const identity = JSON.stringify([
    `s3:${'a'.repeat(64)}`,
    'b'.repeat(64),
    'c'.repeat(64),
    'POST',
    url('redis'),
  ]);
  const response = JSON.stringify({
    status: 201,
    headers: { 'content-type': 'application/json' },
    body: 'x'.repeat(1400),
  });
  libraries.push({
    name: 'empty scripts (the floor)',
    post: async (i) => {
      const tag = `{s3:floor:${i}}`;
      await floor.evalsha(
        empty,
        4,
        `${tag}:rec`,
        'epoch',
        'undecided',
        `${tag}:gone`,
        identity,
        'o'.repeat(36),
        30000,
        86400000,
        '',
        86400000,
        'abcdef.0|1796307690735543|0|0|0',
        'abcdef.1',
        60000,
        86400000,
      );
      await floor.evalsha(
        empty,
        2,
        `${tag}:rec`,
        'undecided',
        '1796307690735543',
        'o'.repeat(36),
        response,
        '1796307690735',
        86400000,
        '',
        '',
        `${tag}:done`,
        '0',
      );
    },
  });

  const rows: string[][] = [];
  const perWrite = new Map<string, { commands: number; usec: number }>();
  const probe = ctx.n(20, 50);
  for (const lib of libraries) {
    // one warm-up write so connection set-up (SCRIPT LOAD, HELLO, …) is not counted
    await lib.post(-1);
    const phases = lib.name.startsWith('empty')
      ? (['fresh write'] as const)
      : (['fresh write', 'replay'] as const);
    for (const phase of phases) {
      const counted = await countCommands(ctx.redis.port, ctx.redis.admin, ops, probe, async (from, to) => {
        for (let i = from; i < to; i++) await lib.post(i);
      });
      perWrite.set(`${lib.name}|${phase}`, {
        commands: sum(counted.commandstats) - sum(counted.topLevel),
        usec: counted.serverUsec,
      });
      if (lib.name === 'oncely + Redis') {
        const trips = sum(counted.topLevel);
        const want = phase === 'fresh write' ? 2 : 1;
        s.targets.push({
          what: `Redis round trips per ${phase} (oncely)`,
          target: String(want),
          measured: String(trips),
          met: trips <= want,
        });
      }
      rows.push([
        lib.name,
        phase,
        String(sum(counted.topLevel)),
        perOp(counted.topLevel),
        String(sum(counted.commandstats)),
        perOp(counted.commandstats),
        counted.serverUsec.toFixed(1),
      ]);
    }
  }
  floor.disconnect();
  ctx.log(`s3: counted ${ops} writes and ${ops} replays per library`);
  const o = perWrite.get('oncely + Redis|fresh write');
  const p = perWrite.get('Powertools + Redis|fresh write');
  const oReplay = perWrite.get('oncely + Redis|replay');
  if (o && p) {
    const ratio = o.usec / p.usec;
    s.targets.push(
      {
        what: 'Redis server time per fresh write: oncely ÷ Powertools',
        target: '≤ 2×',
        measured: `${ratio.toFixed(2)}× (${o.usec.toFixed(1)} vs ${p.usec.toFixed(1)} µs)`,
        met: ratio <= 2,
      },
      {
        what: 'Redis commands run inside the scripts per fresh write (oncely)',
        target: '≤ 8',
        measured: o.commands.toFixed(2),
        met: o.commands <= 8.05,
      },
    );
    s.ratios.push({
      label: 'Redis µs per fresh write: oncely / Powertools',
      value: ratio,
      target: 2,
      better: 'lower',
    });
  }
  if (oReplay) {
    s.targets.push({
      what: 'Redis commands run inside the scripts per replay (oncely, another process)',
      target: '≤ 2',
      measured: oReplay.commands.toFixed(2),
      met: oReplay.commands <= 2.05,
    });
  }
  s.tables.push({
    header: [
      'library',
      'per',
      'round trips',
      'client commands',
      'commands executed (commandstats)',
      'commandstats breakdown',
      'redis-server µs',
    ],
    rows,
  });
  s.notes.push(
    `${ops} sequential operations per row for the counts and server time, ${probe} more under MONITOR for the round trips; auto-pipelining off. "commands executed" are the ` +
      '`INFO commandstats` deltas divided by the operations; they include the commands Lua scripts run. ' +
      '"round trips" counts only the commands clients sent (a MONITOR connection tells them from the ' +
      "scripts' own, marked `lua`). " +
      `"redis-server µs" is the server's own time for the operation ` +
      "(commandstats `usec` of the client commands; a script's time includes what it runs). " +
      'Targets: 2 round trips per fresh write, 1 per replay.',
  );
  return s;
}
