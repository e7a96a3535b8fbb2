import { type AuditEntry, type IdempotencyRecord, leaseLive, RecordNotFoundError } from '@oncely/core';
import { type Command, flag, singleKey } from '../command.js';
import type { CommandContext } from '../context.js';
import { decodeBody, formatTime, recordView, responseView, statusOf } from '../format.js';

export interface InspectInput {
  key: string;
  json: boolean;
  /** Print the stored response body (off by default). */
  body: boolean;
}

/** Reads a record or fails with `RecordNotFoundError` (exit code 2). */
export async function getRecord(ctx: CommandContext, key: string): Promise<IdempotencyRecord> {
  const record = await ctx.store.get(key);
  if (!record) throw new RecordNotFoundError(key);
  return record;
}

/** One record: fields, lease and fencing state, override grant, response summary, audit trail. */
export async function inspect(input: InspectInput, ctx: CommandContext): Promise<void> {
  const record = await getRecord(ctx, input.key);
  const now = ctx.now();
  if (input.json) {
    ctx.stdout.write(`${JSON.stringify(recordView(record, now, { body: input.body }), null, 2)}\n`);
    return;
  }
  ctx.stdout.write(describeRecord(record, now, input.body));
}

export function describeRecord(record: IdempotencyRecord, now: number, withBody: boolean): string {
  const status = statusOf(record, now);
  const lines: string[] = [];
  const field = (name: string, value: string, indent = '') =>
    lines.push(`${indent}${name.padEnd(16 - indent.length)}${value}`);

  field('key', record.key);
  field(
    'status',
    status === record.status
      ? status
      : `${status} (stored as ${record.status}; its lease expired: the owner stopped)`,
  );
  field('method', record.method);
  field('target', record.target);
  field('scope', record.scope);
  field('fingerprint', record.fingerprint);
  field('created', formatTime(record.createdAt, now));
  field('updated', formatTime(record.updatedAt, now));
  field('expires', formatTime(record.expiresAt, now));
  field('attempts', String(record.attempts));
  field('revision', String(record.revision));
  if (record.providerKey !== undefined) field('provider key', record.providerKey);

  lines.push('', 'lease and fencing');
  field('fencing token', String(record.fencingToken), '  ');
  field('lease owner', record.leaseOwner ?? '(none)', '  ');
  if (record.leaseUntil === null) field('lease until', '(no lease)', '  ');
  else {
    const state = leaseLive(record, now) ? 'held' : 'EXPIRED';
    field('lease until', `${formatTime(record.leaseUntil, now)} ${state}`, '  ');
  }

  lines.push('', 'override grant');
  if (record.overrideGrant) {
    field('reviewer', record.overrideGrant.reviewer, '  ');
    field('reason', record.overrideGrant.reason, '  ');
    lines.push('  (single use: not consumed yet; the next request with a different payload takes it)');
  } else lines.push('  (none)');

  lines.push('', 'response');
  if (record.response) {
    const view = responseView(record.response, false);
    field('status', `${view.status}${view.statusText ? ` ${view.statusText}` : ''}`, '  ');
    field('headers', view.headerNames.length > 0 ? view.headerNames.join(', ') : '(none)', '  ');
    if (view.omitted !== undefined) field('body', `not stored (${view.omitted}): cannot be replayed`, '  ');
    else field('body', `${view.bodyBytes ?? 0} bytes${withBody ? '' : ' (print it with --body)'}`, '  ');
    if (withBody && record.response.body !== undefined) {
      const decoded = decodeBody(record.response.body);
      lines.push(`  --- body (${decoded.encoding}) ---`, decoded.text, '  --- end of body ---');
    }
  } else lines.push('  (none stored)');

  lines.push('', `audit trail (${record.audit.length})`);
  if (record.audit.length === 0) lines.push('  (empty)');
  for (const entry of record.audit) lines.push(`  ${auditLine(entry)}`);
  return `${lines.join('\n')}\n`;
}

export function auditLine(entry: AuditEntry): string {
  const parts = [new Date(entry.at).toISOString(), entry.action];
  if (entry.token !== undefined) parts.push(`token=${entry.token}`);
  if (entry.reviewer !== undefined) parts.push(`reviewer=${JSON.stringify(entry.reviewer)}`);
  if (entry.reason !== undefined) parts.push(`reason=${JSON.stringify(entry.reason)}`);
  if (entry.fingerprint !== undefined) parts.push(`fingerprint=${entry.fingerprint}`);
  if (entry.detail !== undefined) parts.push(`detail=${JSON.stringify(entry.detail)}`);
  return parts.join('  ');
}

export const inspectCommand: Command<InspectInput> = {
  name: 'inspect',
  summary: 'Show one record: audit trail, lease and fencing state, response summary',
  usage: 'oncely inspect <key> [--json] [--body]',
  options: { json: { type: 'boolean' }, body: { type: 'boolean' } },
  parse(values, positionals) {
    return { key: singleKey(positionals, 'inspect'), json: flag(values, 'json'), body: flag(values, 'body') };
  },
  run: inspect,
};
