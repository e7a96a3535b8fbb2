import type { Redis } from 'ioredis';

/** `INFO commandstats` as command → calls. Counts commands run inside scripts too, under their own names. */
export async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const text = await client.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/** Calls made between two snapshots, only the commands that changed. */
export function callsBetween(
  before: Map<string, number>,
  after: Map<string, number>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [command, count] of after) {
    const diff = count - (before.get(command) ?? 0);
    if (diff > 0) delta[command] = diff;
  }
  return delta;
}
