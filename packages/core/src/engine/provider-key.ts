import { withBodyField } from '../canonical.js';
import { readPath } from '../classify.js';
import type { Derived } from '../derive.js';
import { KeyDerivationError } from '../errors.js';
import { formatHeaderValue, type ProviderPreset, providerKeyFor } from '../providers.js';
import type { PreparedRequest } from '../types.js';
import type { Operation, Plan } from './operation.js';

/*
 * Carrying the provider's own idempotency key: which key (derived from ours, per override
 * revision), and where it goes on the wire (a header, or a field of the body), as the preset says.
 */

/**
 * The key the provider sees for this revision of the record: the preset's form of it, or — where
 * an SDK put a per-call key in a header and no preset says more — our hash (`-r<n>` after an
 * override), so every run sends one stable key. `undefined`: nothing to carry.
 */
export function providerKeyOf(plan: Plan, derived: Derived, revision: number): string | undefined {
  if (plan.preset) return providerKeyFor(plan.preset, derived.hash, derived.explicitKey, revision);
  if (derived.sdkKey) return revision > 0 ? `${derived.hash}-r${revision}` : derived.hash;
  return undefined;
}

/** The request as it is sent: the provider's key where the preset says, a header or a body field. */
export function prepare(op: Operation, providerKey: string | undefined, attemptNo: number): PreparedRequest {
  const { request, derived } = op;
  const prepared: PreparedRequest = {
    method: derived.method,
    url: request.url,
    setHeaders: {},
    body: undefined,
    key: derived.key,
    attempt: attemptNo,
  };
  if (providerKey === undefined) return prepared;
  // The SDK's per-call key is overwritten with the stable one (the preset's header may be the same).
  if (derived.sdkKey) prepared.setHeaders[derived.sdkKey.header] = providerKey;
  const carry = op.plan.preset?.carry;
  if (!carry) return prepared;
  if ('header' in carry) {
    prepared.setHeaders[carry.header.toLowerCase()] = formatHeaderValue(providerKey, carry.format);
  } else if (bodyFieldValue(derived, carry.bodyField) !== providerKey) {
    prepared.body = withBodyField(derived.body!, carry.bodyField, providerKey);
  }
  return prepared;
}

/** A provider that takes its key in a body field needs a body we can rewrite. */
export function checkCarry(preset: ProviderPreset | undefined, derived: Derived): void {
  if (!preset || !('bodyField' in preset.carry)) return;
  const kind = derived.body?.kind;
  if (kind !== 'json' && kind !== 'form') {
    throw new KeyDerivationError(
      `Provider '${preset.name}' takes its key in the body field '${preset.carry.bodyField}', which needs a JSON or form body`,
    );
  }
}

/** The value a JSON or form body already carries in the provider's key field. */
function bodyFieldValue(derived: Derived, field: string): unknown {
  const value = readPath(derived.body?.parsed, field);
  return derived.body?.kind === 'form' && Array.isArray(value) ? value[0] : value;
}
