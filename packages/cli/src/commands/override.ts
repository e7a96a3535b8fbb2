import type { AuditEntry } from '@oncely/core';
import { type Command, requiredText, singleKey } from '../command.js';
import type { CommandContext } from '../context.js';
import { writing } from '../errors.js';
import { statusOf } from '../format.js';
import { auditLine, getRecord } from './inspect.js';
import { expectedOf } from './resolve.js';

export interface OverrideInput {
  key: string;
  reason: string;
  reviewer: string;
}

/**
 * Grants one request with a different payload the right to reuse this key (the reviewed
 * override). The grant is single use: the engine consumes it with the next different payload.
 */
export async function override(input: OverrideInput, ctx: CommandContext): Promise<void> {
  const record = await getRecord(ctx, input.key);
  const status = statusOf(record, ctx.now());
  const audit: AuditEntry = {
    at: Date.now(),
    action: 'override-granted',
    reason: input.reason,
    reviewer: input.reviewer,
  };
  const grant = { reason: input.reason, reviewer: input.reviewer };
  const after = await writing(input.key, () =>
    ctx.store.grantOverride(input.key, grant, audit, expectedOf(record)),
  );
  if (record.overrideGrant) {
    ctx.stderr.write(
      `note: this replaces the unused grant by ${JSON.stringify(record.overrideGrant.reviewer)} ` +
        `(${JSON.stringify(record.overrideGrant.reason)}).\n`,
    );
  }
  if (status === 'in_flight') {
    ctx.stderr.write(
      'note: the record is in flight; the grant takes effect once that attempt has finished.\n',
    );
  }
  ctx.stdout.write(
    `Granted a single-use override on ${after.key} (${status}, revision ${after.revision}): ` +
      'the next request with a different payload may reuse this key; later ones are refused again.\n',
  );
  ctx.stdout.write(`audit: ${auditLine(audit)}\n`);
}

export const overrideCommand: Command<OverrideInput> = {
  name: 'override',
  summary: 'Allow one request with a different payload to reuse a key (reviewed, single use)',
  usage: 'oncely override <key> --reason "..." --reviewer alice',
  options: { reason: { type: 'string' }, reviewer: { type: 'string' } },
  parse(values, positionals) {
    return {
      key: singleKey(positionals, 'override'),
      reason: requiredText(values, 'reason', 'say why this key may carry a different payload (audit trail)'),
      reviewer: requiredText(values, 'reviewer', 'name who reviewed the override (audit trail)'),
    };
  },
  run: override,
};
