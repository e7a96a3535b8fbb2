import { type Command, flag, noPositionals } from '../command.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';

export type PurgeInput = Record<string, never>;

/**
 * `store.purgeExpired()`: deletes expired records in stores without native expiry. Redis expires
 * records by itself; there the count is of expired undecided (unknown) records it reported.
 */
export async function purge(_input: PurgeInput, ctx: CommandContext): Promise<void> {
  const count = await ctx.store.purgeExpired();
  ctx.stdout.write(`Purged ${count} expired record(s).\n`);
}

export const purgeCommand: Command<PurgeInput> = {
  name: 'purge',
  summary: 'Delete expired records (stores without native expiry)',
  usage: 'oncely purge --expired',
  options: { expired: { type: 'boolean' } },
  parse(values, positionals) {
    noPositionals(positionals, 'purge');
    if (!flag(values, 'expired')) {
      throw new UsageError(
        'purge needs --expired (only expired records are ever purged): oncely purge --expired',
      );
    }
    return {};
  },
  run: purge,
};
