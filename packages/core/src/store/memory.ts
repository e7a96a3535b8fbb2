import { type Duration, toMs } from '../duration.js';
import { ConfigError, LeaseLostError, RecordChangedError, RecordNotFoundError } from '../errors.js';
import { effectiveStatus, isTakeable, leaseLive } from '../record.js';
import type {
  AuditEntry,
  CompleteInput,
  ExpectedRecord,
  IdempotencyRecord,
  IdempotencyStore,
  ListFilter,
  ReserveInput,
  ReserveResult,
  StoredResponse,
  TakeOverInput,
  TakeOverResult,
} from '../types.js';

/** The default bound of `MemoryStoreOptions.maxRecords`. */
const DEFAULT_MAX_RECORDS = 100_000;

export interface MemoryStoreOptions {
  /** How often expired records are swept out of memory. Default `'60s'`. */
  sweepEvery?: Duration | undefined;
  /**
   * How many records the store holds before it evicts the least recently used **completed** ones
   * ("used": replayed or read by `reserve`/`get`, or written). A positive integer, or `Infinity`
   * for no bound (as before this option). Default 100 000: about 110 MiB of heap with small
   * responses (measured ~1.1 KiB per record), so the embedded default cannot grow a process
   * without end, and far more than a test, script or small job writes within one `ttl`; a
   * process that writes more than that per `ttl` and needs every replay wants `@oncely/redis`.
   *
   * Evicting a completed record only loses a future deduplication: the same call made again is
   * sent again, as after its `ttl`. `in_flight` and `unknown` records are never evicted (that
   * could let a second write through), so with only those left the store holds more than
   * `maxRecords`. Expired records are dropped before a live one is evicted (see DESIGN §2 for
   * the one exception). The bound counts records, not bytes: a stored response can be up to
   * `maxResponseBytes`. Each operation is O(1) (eviction amortized). `evicted` counts evictions.
   */
  maxRecords?: number | undefined;
}

export interface MemoryStore extends IdempotencyStore {
  /** Records held now (expired ones included until swept). */
  readonly size: number;
  /** The bound the store was made with (`Infinity`: none). */
  readonly maxRecords: number;
  /** Live completed records evicted to keep the bound, since the store was made. */
  readonly evicted: number;
  /** Stops the sweep timer. The store keeps working; expired records are then dropped lazily. */
  close(): void;
}

/**
 * The embedded default store: one process, lost on exit. Safe for concurrent calls inside the
 * process (every operation runs synchronously to completion); use `@oncely/redis` across processes.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const maxRecords = checkMaxRecords(options.maxRecords ?? DEFAULT_MAX_RECORDS);
  const bounded = maxRecords !== Number.POSITIVE_INFINITY;
  const records = new Map<string, IdempotencyRecord>();
  // The completed records (the same objects as in `records`), least recently used first: a Map
  // keeps insertion order, so a use is delete + set and the eviction candidate is the first key.
  // Undecided records are never in it, so an eviction never walks past them. Kept only if bounded.
  const completed = new Map<string, IdempotencyRecord>();
  // One iterator kept across evictions: every entry it has passed was evicted or moved to the end,
  // so its next entry is the least recently used. A fresh iterator per eviction would skip again
  // every slot deleted since the Map last compacted (V8 leaves holes), O(n) per eviction. A Map
  // iterator sees entries set after it was made; once done it stays done, and is then remade.
  let oldest = completed.entries();
  let evicted = 0;
  // No record expires before this (a lower bound: lowered on every write, made exact by a full
  // pass), so an eviction knows in O(1) whether an expired record could be dropped instead.
  let earliestExpiry = Number.POSITIVE_INFINITY;
  // Evictions since the last full pass for expired records: a pass costs O(size), so one runs at
  // most once per `passEvery` evictions, which keeps evicting O(1) amortized.
  const passEvery = bounded ? Math.max(1, Math.ceil(maxRecords / 4)) : 0;
  let evictionsSincePass = passEvery;
  const waiters = new Map<string, Set<() => void>>();
  const expiredListeners = new Set<(record: IdempotencyRecord) => void>();
  let tokens = 0; // one counter for the store: a token is never reused, even after a record expires

  const sweep = setInterval(() => void purge(), toMs(options.sweepEvery ?? '60s', 'sweepEvery'));
  sweep.unref();

  function purge(now = Date.now()): number {
    let removed = 0;
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, record] of records) {
      if (record.expiresAt <= now) {
        drop(key, record, now);
        removed++;
      } else if (record.expiresAt < earliest) earliest = record.expiresAt;
    }
    earliestExpiry = earliest;
    evictionsSincePass = 0;
    return removed;
  }

  /** Deletes the record, from the LRU order too. */
  function remove(key: string): void {
    records.delete(key);
    if (bounded) completed.delete(key);
  }

  /** The record was used (read or written): a completed one becomes the most recently used. */
  function use(key: string, record: IdempotencyRecord): void {
    if (!bounded) return;
    if (record.expiresAt < earliestExpiry) earliestExpiry = record.expiresAt;
    completed.delete(key);
    if (record.status === 'completed') completed.set(key, record);
  }

  /** Over the bound: drops expired records if any may be there, then evicts completed ones, LRU first. */
  function trim(): void {
    if (records.size <= maxRecords) return;
    const now = Date.now();
    if (now >= earliestExpiry && evictionsSincePass >= passEvery) purge(now);
    while (records.size > maxRecords) {
      let step = oldest.next();
      if (step.done) {
        oldest = completed.entries();
        step = oldest.next();
        // Only undecided records are left: the store stays over its bound rather than drop one.
        if (step.done) return;
      }
      const [key, record] = step.value;
      if (record.expiresAt <= now) drop(key, record, now);
      else {
        remove(key);
        evicted++;
        evictionsSincePass++;
      }
    }
  }

  function drop(key: string, record: IdempotencyRecord, now: number): void {
    remove(key);
    if (effectiveStatus(record, now) === 'unknown')
      for (const listener of expiredListeners) listener(clone(record));
    notify(key);
  }

  /** The record if it exists and has not expired (expired ones are dropped on sight). */
  function live(key: string, now = Date.now()): IdempotencyRecord | undefined {
    const record = records.get(key);
    if (record && record.expiresAt <= now) {
      drop(key, record, now);
      return undefined;
    }
    return record;
  }

  /** The record the token holds, or `LeaseLostError`. */
  function owned(key: string, token: number): IdempotencyRecord {
    const record = live(key);
    if (!record || record.fencingToken !== token || record.status !== 'in_flight') {
      throw new LeaseLostError(
        key,
        record ? `the record now has token ${record.fencingToken}` : 'the record is gone',
      );
    }
    return record;
  }

  /** The record if it still has the token and status the operator saw; else why not, as an error. */
  function unchanged(key: string, expected: ExpectedRecord): IdempotencyRecord {
    const record = live(key);
    if (!record) throw new RecordNotFoundError(key);
    if (record.fencingToken !== expected.token || record.status !== expected.status) {
      throw new RecordChangedError(key, record.fencingToken, record.status);
    }
    return record;
  }

  function notify(key: string): void {
    const set = waiters.get(key);
    if (!set) return;
    waiters.delete(key);
    for (const wake of set) wake();
  }

  function touch(record: IdempotencyRecord, audit?: AuditEntry): void {
    record.updatedAt = Date.now();
    if (audit) record.audit.push(audit);
  }

  const store: MemoryStore = {
    get size() {
      return records.size;
    },

    get maxRecords() {
      return maxRecords;
    },

    get evicted() {
      return evicted;
    },

    close() {
      clearInterval(sweep);
    },

    async reserve(input: ReserveInput): Promise<ReserveResult> {
      const now = Date.now();
      const existing = live(input.key, now);
      if (existing) {
        use(input.key, existing);
        return { acquired: false, record: clone(existing) };
      }
      const record: IdempotencyRecord = {
        key: input.key,
        scope: input.scope,
        status: 'in_flight',
        fingerprint: input.fingerprint,
        method: input.method,
        target: input.target,
        createdAt: now,
        updatedAt: now,
        expiresAt: now + input.ttlMs,
        leaseOwner: input.owner,
        leaseUntil: now + input.leaseMs,
        fencingToken: ++tokens,
        attempts: 1,
        providerKey: input.providerKey,
        revision: 0,
        audit: [],
      };
      records.set(input.key, record);
      use(input.key, record);
      trim();
      return { acquired: true, record: clone(record) };
    },

    async complete(key: string, token: number, input: CompleteInput): Promise<IdempotencyRecord> {
      const record = owned(key, token);
      record.status = 'completed';
      record.response = copyResponse(input.response);
      record.providerKey = input.providerKey ?? record.providerKey;
      record.leaseOwner = null;
      record.leaseUntil = null;
      record.expiresAt = Date.now() + input.ttlMs;
      touch(record, input.audit && { ...input.audit });
      use(key, record);
      // Waiters read the record inside notify, so they get it even if trim evicts it at once (a
      // record that may be evicted now: the store may have been over its bound).
      notify(key);
      trim();
      return clone(record);
    },

    async release(key: string, token: number): Promise<void> {
      owned(key, token);
      remove(key);
      notify(key);
    },

    async extend(key: string, token: number, leaseMs: number): Promise<number> {
      const record = owned(key, token);
      record.leaseUntil = Date.now() + leaseMs;
      touch(record);
      use(key, record);
      return record.leaseUntil;
    },

    async markUnknown(key: string, token: number, cause: string, ttlMs: number): Promise<void> {
      const record = owned(key, token);
      record.status = 'unknown';
      record.leaseOwner = null;
      record.leaseUntil = null;
      record.expiresAt = Date.now() + ttlMs;
      touch(record, { at: Date.now(), action: 'unknown', token, detail: cause });
      use(key, record);
      notify(key);
    },

    async takeOver(key: string, input: TakeOverInput): Promise<TakeOverResult> {
      const now = Date.now();
      const record = live(key, now);
      if (!record) return { won: false, record: undefined };
      const takeable = isTakeable(record, now);
      const expected = record.fencingToken === input.expectedToken && record.status === input.expectedStatus;
      if (!expected || !takeable) return { won: false, record: clone(record) };
      record.status = 'in_flight';
      record.fencingToken = ++tokens;
      record.leaseOwner = input.owner;
      record.leaseUntil = now + input.leaseMs;
      record.expiresAt = now + input.ttlMs;
      record.attempts += 1;
      if (input.fingerprint !== undefined) record.fingerprint = input.fingerprint;
      if (input.providerKey !== undefined) record.providerKey = input.providerKey;
      if (input.bumpRevision) record.revision += 1;
      if (input.consumeGrant) record.overrideGrant = undefined;
      touch(record, { ...input.audit, token: record.fencingToken });
      use(key, record); // in flight again: out of the eviction order
      return { won: true, record: clone(record) };
    },

    async get(key: string): Promise<IdempotencyRecord | undefined> {
      const record = live(key);
      if (!record) return undefined;
      use(key, record);
      return clone(record);
    },

    waitFor(key: string, timeoutMs: number, signal?: AbortSignal): Promise<IdempotencyRecord | undefined> {
      const now = Date.now();
      const record = live(key, now);
      if (!record || !leaseLive(record, now) || timeoutMs <= 0 || signal?.aborted) {
        return Promise.resolve(record && clone(record));
      }
      return new Promise((resolve) => {
        const set = waiters.get(key) ?? new Set();
        waiters.set(key, set);
        const done = () => {
          clearTimeout(timer);
          set.delete(wake);
          signal?.removeEventListener('abort', done);
          const current = live(key);
          resolve(current && clone(current));
        };
        const wake = done;
        // Wake at the earlier of the timeout and the lease's end: an expired lease is news too.
        const timer = setTimeout(done, Math.min(timeoutMs, (record.leaseUntil ?? now) - now + 1));
        set.add(wake);
        signal?.addEventListener('abort', done, { once: true });
      });
    },

    async *list(filter: ListFilter = {}): AsyncIterable<IdempotencyRecord> {
      const now = Date.now();
      for (const [key] of records) {
        const record = live(key, now);
        if (!record) continue;
        if (filter.status && effectiveStatus(record, now) !== filter.status) continue;
        if (filter.namespace && !key.startsWith(`${filter.namespace}:`)) continue;
        if (filter.createdBefore !== undefined && record.createdAt >= filter.createdBefore) continue;
        yield clone(record);
      }
    },

    // Typed by IdempotencyStore['resolve'] (the store's declared type).
    async resolve(key, resolution, audit, expected) {
      const record = unchanged(key, expected);
      if (resolution.as === 'absent') {
        remove(key);
        notify(key);
        return undefined;
      }
      record.status = 'completed';
      record.response = copyResponse(resolution.response);
      record.fencingToken = ++tokens; // fences out whoever held the lease
      record.leaseOwner = null;
      record.leaseUntil = null;
      record.expiresAt = Date.now() + resolution.ttlMs;
      touch(record, audit);
      use(key, record);
      notify(key); // before trim, as in complete
      trim();
      return clone(record);
    },

    async grantOverride(key, grant, audit, expected) {
      const record = unchanged(key, expected);
      record.overrideGrant = { reason: grant.reason, reviewer: grant.reviewer };
      touch(record, audit);
      use(key, record);
      return clone(record);
    },

    async purgeExpired(): Promise<number> {
      return purge();
    },

    onExpiredUnknown(listener) {
      expiredListeners.add(listener);
      return () => expiredListeners.delete(listener);
    },
  };
  return store;
}

function checkMaxRecords(value: unknown): number {
  if (value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && (value as number) > 0))
    return value as number;
  throw new ConfigError(
    `memoryStore maxRecords must be a positive integer, or Infinity for no bound; got ${typeof value === 'string' ? `'${value}'` : String(value)}`,
  );
}

/**
 * A copy the caller may not use to change the stored record. Records are plain JSON-shaped data,
 * so a field-by-field copy does what structuredClone does, several times faster (the hot path).
 */
function clone(record: IdempotencyRecord): IdempotencyRecord {
  const copy: IdempotencyRecord = {
    ...record,
    audit: record.audit.map((entry) => ({ ...entry })),
    observedAt: Date.now(),
  };
  if (record.response) copy.response = copyResponse(record.response);
  if (record.overrideGrant) copy.overrideGrant = { ...record.overrideGrant };
  return copy;
}

function copyResponse(response: StoredResponse): StoredResponse {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(response.headers))
    headers[name] = Array.isArray(value) ? [...value] : value;
  return { ...response, headers };
}
