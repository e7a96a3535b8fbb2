/**
 * The names oncely sets on spans and metric points. No OpenTelemetry semantic convention for
 * idempotency exists yet: these are oncely's own, under the `oncely.` prefix.
 */
export const ATTRIBUTES = {
  /** Whether oncely guarded the request; `false` for a pass-through, which gets no other attribute. */
  guarded: 'oncely.guarded',
  /** The hash part of the store key (hex SHA-256): never the namespace, a body or a header value. */
  keyHash: 'oncely.key_hash',
  /** `sent` | `replayed` | `waited` | `coalesced` | `refused`. */
  outcome: 'oncely.outcome',
  /** The `IdempotencyError` code of a refusal (`ONCELY_PAYLOAD_MISMATCH`, …). */
  errorCode: 'oncely.error_code',
  /** Whether a provider-native idempotency key went on the wire with this call's send. */
  providerKey: 'oncely.provider_key',
  /** The key's attempt number of this call's last send (1 = first); 0 when the call sent nothing. */
  attempts: 'oncely.attempts',
  /** The store method a `oncely.store.duration` point measured (`reserve`, `complete`, …). */
  storeOperation: 'oncely.store.operation',
} as const;

/** What became of one `execute` call, as `oncely.outcome` says. */
export type Outcome = 'sent' | 'replayed' | 'waited' | 'coalesced' | 'refused';

/** The instruments' names. */
export const METRICS = {
  replays: 'oncely.replays',
  waits: 'oncely.waits',
  refusals: 'oncely.refusals',
  waitDuration: 'oncely.wait.duration',
  storeDuration: 'oncely.store.duration',
  executeDuration: 'oncely.execute.duration',
} as const;

/** The instrumentation scope of the default tracer and meter. */
export const SCOPE = '@oncely/core';
