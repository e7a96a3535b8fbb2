import { channel } from 'node:diagnostics_channel';

/** Name of the `node:diagnostics_channel` every oncely event is published on. */
export const EVENT_CHANNEL = 'oncely:event';

type Base<T extends string> = { type: T; key: string };

/** Everything oncely reports; `key` is always the store key (a hash). */
export type OncelyEvent =
  | (Base<'reserved'> & { token: number })
  | Base<'coalesced'>
  // An SDK's per-call key (stripe-node-retry-…) was found in `header` and replaced by oncely's stable key.
  | (Base<'sdk-key-replaced'> & { header: string })
  // A replay from this process' in-flight twin is `coalesced`; one found by reconcile is `reconciled`.
  | (Base<'replayed'> & { source: 'store'; status: number })
  | (Base<'waiting'> & { token: number })
  | (Base<'sent'> & { attempt: number; token: number })
  | (Base<'completed'> & { status: number; providerReplayed: boolean })
  | (Base<'released'> & {
      status?: number | undefined;
      reason: 'not-executed' | 'not-sent' | 'provider-mismatch';
    })
  | (Base<'unknown'> & { cause: string })
  | (Base<'record-not-written'> & { reason: 'lease-lost' | 'store-unavailable'; operation: string })
  | (Base<'lease-lost'> & { token: number })
  | (Base<'send-withheld'> & { token: number; reason: 'lease-lost' })
  | (Base<'takeover'> & {
      fromToken: number;
      token: number;
      previous: 'unknown' | 'lease-expired';
    })
  | (Base<'reconciled'> & { verdict: 'found' | 'absent' | 'undecided' })
  | (Base<'mismatch'> & { by: 'store' | 'provider' })
  | (Base<'override'> & { reason: string; reviewer: string; revision: number; granted: boolean })
  | (Base<'provider-in-use'> & { status: number; attempt: number; delayMs: number })
  | (Base<'redact-failed'> & { message: string })
  | (Base<'store-error'> & { operation: string; message: string })
  | (Base<'fail-open'> & { message: string })
  | (Base<'unknown-expired'> & { createdAt: number })
  // Store-wide (IdempotencyStore.onStoreEvent): `key` is the operation that found it, or ''.
  | (Base<'store-not-durable'> & { detail: string })
  | (Base<'store-reset'> & { detail: string });

export type OncelyEventType = OncelyEvent['type'];

const diagnostics = channel(EVENT_CHANNEL);

/** Delivers an event to the user's `onEvent` and to the diagnostics channel; a throwing listener never breaks a request. */
export function createEmitter(
  onEvent: ((event: OncelyEvent) => void) | undefined,
): (event: OncelyEvent) => void {
  return (event) => {
    if (onEvent) {
      try {
        onEvent(event);
      } catch {
        // A listener's bug must not turn a completed write into a failure.
      }
    }
    if (diagnostics.hasSubscribers) diagnostics.publish(event);
  };
}
