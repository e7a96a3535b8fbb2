import type { AuditEntry, IdempotencyRecord, StoredResponse } from '@oncely/core';
import { type Command, flag, requiredText, singleKey, stringOption } from '../command.js';
import type { CommandContext } from '../context.js';
import { CliError, ExitCode, UsageError, writing } from '../errors.js';
import { bodyBytes, formatDuration, formatTime, parseDuration, statusOf } from '../format.js';
import { readResponseFile } from '../response-file.js';
import { auditLine, getRecord } from './inspect.js';

export type ResolveInput = {
  key: string;
  reason: string;
  reviewer: string;
  /** Also resolve a `completed` record, or an `in_flight` one whose owner still holds the lease. */
  force: boolean;
} & ({ as: 'completed'; response: StoredResponse; ttlMs: number } | { as: 'absent' });

/** The engine's default record TTL. */
export const DEFAULT_TTL = '24h';
const MAX_TTL_MS = 90 * 24 * 60 * 60 * 1000;

/**
 * Records an outcome an operator checked by hand: `completed` (with the provider's response,
 * replayed to the next caller) or `absent` (the write never happened: the key is freed).
 */
export async function resolve(input: ResolveInput, ctx: CommandContext): Promise<void> {
  const record = await getRecord(ctx, input.key);
  refuseUnlessForced(record, ctx.now(), input.force);
  const audit: AuditEntry =
    input.as === 'completed'
      ? {
          at: Date.now(),
          action: 'resolved-completed',
          reason: input.reason,
          reviewer: input.reviewer,
          detail: `operator: completed with HTTP ${input.response.status} (was ${statusOf(record, ctx.now())})`,
        }
      : {
          // The record is deleted, so this entry is not kept; it is printed for the incident notes.
          at: Date.now(),
          action: 'reconciled',
          reason: input.reason,
          reviewer: input.reviewer,
          detail: `operator: absent, key freed (was ${statusOf(record, ctx.now())})`,
        };
  if (input.as === 'completed') {
    const resolution = { as: 'completed' as const, response: input.response, ttlMs: input.ttlMs };
    const after = await writing(input.key, () =>
      ctx.store.resolve(input.key, resolution, audit, expectedOf(record)),
    );
    const expires = after ? ` until ${formatTime(after.expiresAt, ctx.now())}` : '';
    ctx.stdout.write(
      `Resolved ${input.key} as completed (HTTP ${input.response.status}, ${bodyBytes(input.response.body ?? '')} bytes): ` +
        `the next identical request gets this response replayed${expires}.\n`,
    );
    ctx.stdout.write(`audit: ${auditLine(audit)}\n`);
  } else {
    await writing(input.key, () => ctx.store.resolve(input.key, { as: 'absent' }, audit, expectedOf(record)));
    ctx.stdout.write(
      `Resolved ${input.key} as absent: the record is deleted and the key is free; the next request sends anew.\n`,
    );
    ctx.stdout.write(
      `audit (not kept in the store: the record is gone; keep it in your incident notes): ${auditLine(audit)}\n`,
    );
  }
}

/**
 * The record as inspected: the store changes it only if nothing (an engine takeover, a completion,
 * another operator) touched it since; else RecordChangedError, exit 4.
 */
export function expectedOf(record: IdempotencyRecord) {
  return { token: record.fencingToken, status: record.status };
}

function refuseUnlessForced(record: IdempotencyRecord, now: number, force: boolean): void {
  if (force) return;
  const status = statusOf(record, now);
  if (status === 'in_flight') {
    throw new CliError(
      ExitCode.Refused,
      `refused: ${record.key} is in flight: its owner holds the lease for ${formatDuration((record.leaseUntil ?? now) - now)} more ` +
        'and may still be sending. Wait for it to finish or for the lease to expire (it then shows as unknown), ' +
        'or pass --force if you are sure the owner is gone. Nothing was changed.',
    );
  }
  if (status === 'completed') {
    throw new CliError(
      ExitCode.Refused,
      `refused: ${record.key} is already completed (HTTP ${record.response?.status ?? '?'}): resolving would replace ` +
        'the recorded outcome. Pass --force to do it anyway. Nothing was changed.',
    );
  }
}

export const resolveCommand: Command<ResolveInput> = {
  name: 'resolve',
  summary: 'Record an outcome checked by hand (completed with a response, or absent)',
  usage:
    'oncely resolve <key> --as completed --response-file r.json --reason "..." --reviewer alice [--ttl 24h] [--force]\n' +
    '       oncely resolve <key> --as absent --reason "..." --reviewer alice [--force]',
  options: {
    as: { type: 'string' },
    'response-file': { type: 'string' },
    reason: { type: 'string' },
    reviewer: { type: 'string' },
    ttl: { type: 'string' },
    force: { type: 'boolean' },
  },
  async parse(values, positionals) {
    const key = singleKey(positionals, 'resolve');
    const as = stringOption(values, 'as');
    if (as === undefined) throw new UsageError('--as is required: --as completed or --as absent');
    if (as !== 'completed' && as !== 'absent') {
      throw new UsageError(`--as must be 'completed' or 'absent', got '${as}'`);
    }
    const reason = requiredText(
      values,
      'reason',
      'say what you checked at the provider (it goes in the audit trail)',
    );
    const reviewer = requiredText(
      values,
      'reviewer',
      'name who reviewed this resolution (it goes in the audit trail)',
    );
    const force = flag(values, 'force');
    const file = stringOption(values, 'response-file');
    const ttl = stringOption(values, 'ttl');
    if (as === 'absent') {
      if (file !== undefined) throw new UsageError('--response-file is only for --as completed');
      if (ttl !== undefined) throw new UsageError('--ttl is only for --as completed');
      return { key, as, reason, reviewer, force };
    }
    if (file === undefined) {
      throw new UsageError('--as completed needs --response-file r.json: the response the provider gave');
    }
    const ttlMs = parseDuration(ttl ?? DEFAULT_TTL, '--ttl');
    if (ttlMs <= 0 || ttlMs > MAX_TTL_MS)
      throw new UsageError(`--ttl must be more than 0 and at most 90d; got '${ttl}'`);
    const response = await readResponseFile(file);
    return { key, as, reason, reviewer, force, response, ttlMs };
  },
  run: resolve,
};
