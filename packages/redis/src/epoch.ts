import { randomBytes } from 'node:crypto';
import type { Reply } from './record.js';

/**
 * The store epoch: a key (`<prefix>epoch`; on Cluster one per slot, see keys.ts) holding
 * `<id>|<generation>|<at>|<refuseUntil>|<unknownUntil>`. Written once at first use, its generation
 * bumped by every grant (reserve, takeOver) in the grant's own script. A store instance remembers
 * the id and the highest generation it saw per epoch key; a grant that finds the epoch missing
 * (Redis flushed or restarted without persistence), replaced, or at an older generation (restarted
 * from an older snapshot or AOF, failed over to a replica that lagged) knows Redis lost writes.
 * Then, counted from that moment on Redis' clock:
 * - until `refuseUntil` (the reset window), grants of keys the store no longer has are refused:
 *   writes reserved before the loss may still be running at the provider;
 * - until `unknownUntil`, such keys are written as `unknown`: an attempt before the loss may have
 *   executed, so the engine reconciles them (native key, reconcile hook) or refuses
 *   (`UnknownOutcomeError`), never sends them blindly.
 */
export interface Epoch {
  id: string;
  generation: number;
  /** Redis time (ms) the loss was found; 0 for an epoch created at first use. */
  at: number;
  refuseUntil: number;
  unknownUntil: number;
}

/** How a grant's script found the epoch (empty when it found nothing new). */
export type EpochFinding = '' | 'missing' | 'replaced' | 'rollback';

export function parseEpoch(text: string): Epoch | undefined {
  const parts = text.split('|');
  if (parts.length !== 5 || !parts[0]) return undefined;
  const [id, generation, at, refuseUntil, unknownUntil] = parts as [string, string, string, string, string];
  return {
    id,
    generation: Number(generation),
    at: Number(at),
    refuseUntil: Number(refuseUntil),
    unknownUntil: Number(unknownUntil),
  };
}

/**
 * Takes the epoch fields a grant script appends (`__epoch`, and `__found` when it found a loss)
 * off the end of its reply, so the rest is the record as before.
 */
export function takeEpoch(reply: Reply): { epoch: Epoch | undefined; found: EpochFinding } {
  let found: EpochFinding = '';
  const rest = reply.rest;
  if (rest.length >= 2 && rest[rest.length - 2] === '__found') {
    found = rest[rest.length - 1] as EpochFinding;
    rest.length -= 2;
  }
  let epoch: Epoch | undefined;
  if (rest.length >= 2 && rest[rest.length - 2] === '__epoch') {
    epoch = parseEpoch(rest[rest.length - 1]!);
    rest.length -= 2;
  }
  return { epoch, found };
}

const DESCRIPTIONS: Record<Exclude<EpochFinding, ''>, string> = {
  missing: 'the epoch key is gone: Redis was flushed or restarted without persistence',
  rollback:
    'the epoch went back to an older generation: Redis restarted from an older snapshot or AOF, or failed over to a replica that lagged',
  replaced:
    'the epoch was replaced (found by another store instance first, or Redis is not the one this store used)',
};

export function describeFinding(found: EpochFinding): string {
  return found === '' ? DESCRIPTIONS.replaced : DESCRIPTIONS[found];
}

/** What this store instance saw of each epoch key. */
export class EpochTracker {
  private readonly seen = new Map<string, { id: string; generation: number; learned?: boolean }>();
  private readonly instance = randomBytes(6).toString('hex');
  private counter = 0;

  /** ARGV for a grant script: the id and generation last seen, and a fresh id in case a new epoch starts. */
  args(epochKey: string): { epochId: string; epochGen: number; freshEpochId: string } {
    const seen = this.seen.get(epochKey);
    return {
      epochId: seen?.id ?? '',
      epochGen: seen?.generation ?? 0,
      freshEpochId: `${this.instance}.${(this.counter++).toString(36)}`,
    };
  }

  /** An epoch read before any grant (at connect): known from now on, unless a grant saw one first. */
  learn(epochKey: string, epoch: Epoch | undefined): void {
    if (epoch && !this.seen.has(epochKey))
      this.seen.set(epochKey, { id: epoch.id, generation: epoch.generation, learned: true });
  }

  /**
   * Records the epoch a script answered (at Redis time `now`). `true` when it tells this instance of
   * a loss: it differs from the epoch this instance knew, or it is the first one this instance sees
   * and a loss found by someone else is still within its windows.
   */
  observe(epochKey: string, epoch: Epoch | undefined, now: number): boolean {
    if (!epoch) return false;
    const seen = this.seen.get(epochKey);
    if (seen?.id === epoch.id) {
      seen.generation = Math.max(seen.generation, epoch.generation);
      if (!seen.learned) return false;
      // Learned at connect, first seen by a grant now: as for any first sight (below).
      seen.learned = false;
      return epoch.at > 0 && now < Math.max(epoch.refuseUntil, epoch.unknownUntil);
    }
    this.seen.set(epochKey, { id: epoch.id, generation: epoch.generation });
    return seen !== undefined || (epoch.at > 0 && now < Math.max(epoch.refuseUntil, epoch.unknownUntil));
  }
}
