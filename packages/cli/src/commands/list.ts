import type { IdempotencyRecord, RecordStatus } from '@oncely/core';
import { type Command, flag, noPositionals, stringOption } from '../command.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import {
  formatDuration,
  parseDuration,
  parsePositiveInt,
  parseStatus,
  recordView,
  statusOf,
  table,
  truncate,
} from '../format.js';

export interface ListInput {
  status?: RecordStatus | undefined;
  /** Store-key namespace, without the trailing `:` (e.g. `billing-bot`). */
  namespace?: string | undefined;
  /** Only records created at least this long ago. */
  olderThanMs?: number | undefined;
  json: boolean;
  /** Stop after this many matches. Default: 1000 for the table, unlimited for `--json`. */
  limit?: number | undefined;
  /** Suppress progress lines on stderr. */
  quiet: boolean;
  /** A progress line every this many scanned records. Default 1000. */
  progressEvery?: number | undefined;
}

/** The table is built in memory, so it is capped by default; `--json` streams and is not. */
export const TABLE_DEFAULT_LIMIT = 1000;
export const PROGRESS_EVERY = 1000;

const HEADERS = ['key', 'status', 'method', 'target', 'age', 'attempts', 'token'];

/**
 * Scans the store and prints the matching records. The status filter is applied here (with the
 * store's clock) so every scanned record counts towards the progress line.
 */
export async function list(input: ListInput, ctx: CommandContext): Promise<void> {
  const now = ctx.now();
  const limit = input.limit ?? (input.json ? Number.POSITIVE_INFINITY : TABLE_DEFAULT_LIMIT);
  const every = input.progressEvery ?? PROGRESS_EVERY;
  const rows: string[][] = [];
  let scanned = 0;
  let matched = 0;
  let more = false;
  const source = ctx.store.list({
    // Both stores add the ':' themselves (despite the 'billing-bot:' example in ListFilter's doc).
    namespace: input.namespace,
    createdBefore: input.olderThanMs === undefined ? undefined : now - input.olderThanMs,
  });
  for await (const record of source) {
    scanned++;
    if (input.status === undefined || statusOf(record, now) === input.status) {
      if (matched === limit) {
        more = true;
        break;
      }
      matched++;
      if (input.json) ctx.stdout.write(`${JSON.stringify(recordView(record, now))}\n`);
      else rows.push(row(record, now));
    }
    if (!input.quiet && scanned % every === 0) {
      ctx.stderr.write(`… scanned ${scanned} records, ${matched} matched\n`);
    }
  }
  if (!input.json) {
    if (rows.length > 0) ctx.stdout.write(table(HEADERS, rows));
    else ctx.stdout.write(`No ${input.status === undefined ? '' : `${input.status} `}records match.\n`);
  }
  if (!input.quiet) {
    ctx.stderr.write(`${matched} matching record(s), ${scanned} scanned.\n`);
    if (more) {
      ctx.stderr.write(`Stopped at --limit ${limit}: more records match. Raise --limit or use --json.\n`);
    }
  }
}

function row(record: IdempotencyRecord, now: number): string[] {
  return [
    record.key,
    statusOf(record, now),
    record.method,
    truncate(record.target, 60),
    formatDuration(now - record.createdAt),
    String(record.attempts),
    String(record.fencingToken),
  ];
}

export const listCommand: Command<ListInput> = {
  name: 'list',
  summary: 'List records, e.g. the unknown ones after an incident',
  usage:
    'oncely list [--status unknown|in_flight|completed] [--namespace ns] [--older-than 10m] [--json] [--limit N] [--quiet]',
  options: {
    status: { type: 'string' },
    namespace: { type: 'string' },
    'older-than': { type: 'string' },
    json: { type: 'boolean' },
    limit: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  parse(values, positionals) {
    noPositionals(positionals, 'list');
    const status = stringOption(values, 'status');
    const namespace = stringOption(values, 'namespace');
    const olderThan = stringOption(values, 'older-than');
    const limit = stringOption(values, 'limit');
    if (namespace !== undefined && (namespace === '' || namespace.endsWith(':'))) {
      throw new UsageError(
        `--namespace takes the namespace without its ':' (e.g. billing-bot); got '${namespace}'`,
      );
    }
    return {
      status: status === undefined ? undefined : parseStatus(status),
      namespace,
      olderThanMs: olderThan === undefined ? undefined : parseDuration(olderThan, '--older-than'),
      json: flag(values, 'json'),
      limit: limit === undefined ? undefined : parsePositiveInt(limit, '--limit'),
      quiet: flag(values, 'quiet'),
    };
  },
  run: list,
};
