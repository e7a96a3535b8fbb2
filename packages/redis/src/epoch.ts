import { randomBytes } from 'node:crypto';
import type { Reply } from './record.js';

/**
 * The store epoch: a key (`<prefix>epoch`; on Cluster one per slot, see keys.ts) holding
 * `<id>|<generation>|<at>|<refuseUntil>|<unknownUntil>`, written at first use and when a loss is
 * found; its generations are counted by `<epoch key>:<id>` (INCR by every grant, in the grant's own
 * script; the new value is the grant's fencing token, scripts.ts epoch_grant; the text's own
 * generation is only where the counter started). A store instance remembers the epoch it saw
 * per epoch key, with the highest generation; a grant that finds the epoch missing
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
 * The epoch fields a grant script replies after the record (`epoch text or ''`, `finding or ''`).
 * An empty epoch means the grant found the epoch this instance sent as known: only its
 * generation moved, to the grant's token.
 */
export function epochOf(reply: Reply): { epoch: Epoch | undefined; found: EpochFinding } {
  const text = reply.rest[1] ?? '';
  return { epoch: text === '' ? undefined : parseEpoch(text), found: (reply.rest[2] ?? '') as EpochFinding };
}

export function epochText(epoch: Epoch): string {
  return `${epoch.id}|${epoch.generation}|${epoch.at}|${epoch.refuseUntil}|${epoch.unknownUntil}`;
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
  private readonly seen = new Map<string, Epoch & { learned?: boolean }>();
  private readonly instance = randomBytes(6).toString('hex');
  private counter = 0;

  /** ARGV for a grant script: the epoch last seen ('' for none), and a fresh id in case a new epoch starts. */
  args(epochKey: string): { epochKnown: string; freshEpochId: string } {
    const seen = this.seen.get(epochKey);
    return {
      epochKnown: seen ? epochText(seen) : '',
      freshEpochId: `${this.instance}.${(this.counter++).toString(36)}`,
    };
  }

  /** The epoch last seen under `epochKey`. */
  known(epochKey: string): Epoch | undefined {
    const seen = this.seen.get(epochKey);
    return seen && { ...seen };
  }

  /** An epoch read before any grant (at connect): known from now on, unless a grant saw one first. */
  learn(epochKey: string, epoch: Epoch | undefined): void {
    if (epoch && !this.seen.has(epochKey)) this.seen.set(epochKey, { ...epoch, learned: true });
  }

  /**
   * Records the epoch a grant answered (at Redis time `now`; `undefined` when it was the one this
   * instance knew, its generation now `generation`). `true` when it tells this instance of a
   * loss: it differs from the epoch this instance knew, or it is the first one this instance sees
   * and a loss found by someone else is still within its windows.
   */
  observe(epochKey: string, answered: Epoch | undefined, now: number, generation = 0): boolean {
    const seen = this.seen.get(epochKey);
    const epoch = answered ?? (seen && { ...seen, generation: Math.max(seen.generation, generation) });
    if (!epoch) return false;
    const withinWindows = epoch.at > 0 && now < Math.max(epoch.refuseUntil, epoch.unknownUntil);
    if (seen?.id === epoch.id) {
      const learned = seen.learned;
      this.seen.set(epochKey, { ...epoch, generation: Math.max(seen.generation, epoch.generation) });
      // Learned at connect, first seen by a grant now: as for any first sight (below).
      return learned === true && withinWindows;
    }
    this.seen.set(epochKey, { ...epoch });
    return seen !== undefined || withinWindows;
  }
}
