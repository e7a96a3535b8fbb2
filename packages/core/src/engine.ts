import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { withBodyField } from './canonical.js';
import { classifyResponse, isProviderReplay, providerMessage, readPath, wasNotSent } from './classify.js';
import { type ResolvedRoute, resolveConfig } from './config.js';
import { conflictAction } from './conflict.js';
import { type Derived, derive } from './derive.js';
import {
  ConfigError,
  IdempotencyError,
  InFlightTimeoutError,
  KeyDerivationError,
  LeaseLostError,
  PayloadMismatchError,
  StoreUnavailableError,
  UnknownOutcomeError,
} from './errors.js';
import { createEmitter } from './events.js';
import { keepLease } from './lease.js';
import {
  existingResourceUrl,
  formatHeaderValue,
  type ProviderPreset,
  presetForHost,
  providerKeyFor,
} from './providers.js';
import { fromFound, fromStored, markReplayed, toStored } from './responses.js';
import { findRoute } from './routes.js';
import { normaliseTarget } from './target.js';
import type {
  ExecuteOptions,
  ExecuteResult,
  IdempotencyOptions,
  IdempotencyRecord,
  IdempotencyStore,
  OutgoingRequest,
  Override,
  PreparedRequest,
  ReconcileVerdict,
  Send,
  WireResponse,
} from './types.js';

export interface Idempotency {
  /** Runs one request through the lifecycle: reserve → send → classify → record (or replay, wait, reconcile). */
  execute(request: OutgoingRequest, send: Send, options?: ExecuteOptions): Promise<ExecuteResult>;
  /** Whether `execute` would guard this request (plugins use it to leave other requests untouched). */
  isGuarded(method: string, url: string, options?: ExecuteOptions): boolean;
  /** The key and fingerprint `execute` would use, or `undefined` when the request is not guarded. */
  keyFor(
    request: OutgoingRequest,
    options?: ExecuteOptions,
  ): { key: string; fingerprint: string } | undefined;
  readonly store: IdempotencyStore;
  readonly namespace: string;
  /** Bodies up to this many bytes are canonicalised; plugins buffer one-shot bodies to the same cap. */
  readonly maxBodyBytes: number;
  /** Detaches from the store's expiry notifications. The store itself belongs to the caller. */
  close(): void;
}

interface Plan {
  route: ResolvedRoute | undefined;
  preset: ProviderPreset | undefined;
  ttlMs: number;
  leaseMs: number;
}

/** One guarded call on its way through the lifecycle. */
interface Operation {
  derived: Derived;
  plan: Plan;
  request: OutgoingRequest;
  send: Send;
  options: ExecuteOptions;
  owner: string;
  deadline: number;
  /**
   * Until when (local monotonic clock, `performance.now()`) the lease is surely ours: counted from
   * the moment we asked the store for it, which precedes the store's own start of the lease.
   */
  leaseDeadline: number;
  /** Times the loop has looked at the key: looks after the first few are paced (see `pace`). */
  looks: number;
  lastLookAt: number;
}

/** Either the call is finished, or the loop looks at the key again (with a record already in hand, if any). */
type Step = { done: ExecuteResult } | { next: IdempotencyRecord | undefined };

const BACKOFF_BASE_MS = 250;
/** Headers of the original request that a look-up GET must not repeat. */
const LOOKUP_DROPPED_HEADERS = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'host',
  'expect',
]);
const BACKOFF_MAX_MS = 5_000;
/** Looks at a key that come free (no pause); after them, pauses from LOOK_PAUSE_MIN_MS doubling to MAX. */
const FREE_LOOKS = 3;
const LOOK_PAUSE_MIN_MS = 10;
const LOOK_PAUSE_MAX_MS = 250;
/** Extends tried in a row to win back at least half a lease before sending. */
const CONFIRM_TRIES = 2;

/** An attempt that stopped before sending because the lease was no longer surely ours. */
const LOOK_AGAIN: Step = { next: undefined };

export function createIdempotency(options: IdempotencyOptions = {}): Idempotency {
  const config = resolveConfig(options);
  const { store } = config;
  const emit = createEmitter(options.onEvent);
  // A store that can lose records (Redis without persistence, a flush) says so through this hook.
  const detachStore = store.onStoreEvent?.((event) =>
    emit({ type: event.type, key: event.key ?? '', detail: event.detail }),
  );
  const fetchImpl = options.fetch ?? ((url, init) => fetch(url, init));
  const inflight = new Map<string, { fingerprint: string; promise: Promise<ExecuteResult> }>();
  const detach = store.onExpiredUnknown?.((record) => {
    if (record.key.startsWith(`${config.namespace}:`)) {
      emit({ type: 'unknown-expired', key: record.key, createdAt: record.createdAt });
    }
  });

  function planFor(method: string, url: string, opts: ExecuteOptions): Plan | undefined {
    if (opts.skip) return undefined;
    let target: string;
    try {
      target = normaliseTarget(url);
    } catch (error) {
      if (config.methods.has(method) || opts.key !== undefined) throw error;
      return undefined;
    }
    const route = findRoute(config.routes, method, target);
    if (route?.rule.skip) return undefined;
    const guarded = opts.key !== undefined || config.methods.has(method) || route?.method !== undefined;
    if (!guarded) return undefined;
    const preset = route?.preset ?? presetForHost(config.autoPresets, target);
    return { route, preset, ttlMs: route?.ttlMs ?? config.ttlMs, leaseMs: route?.leaseMs ?? config.leaseMs };
  }

  async function execute(
    request: OutgoingRequest,
    send: Send,
    opts: ExecuteOptions = {},
  ): Promise<ExecuteResult> {
    checkOptions(opts);
    const method = request.method.toUpperCase();
    const plan = planFor(method, request.url, opts);
    if (!plan) return passthrough(request, send);
    const derived = derive(request, config.derive, plan.route?.rule.key, plan.preset, opts.key);
    checkCarry(plan.preset, derived);

    // Identical calls in this process share one reservation and one send.
    if (!opts.override) {
      const twin = inflight.get(derived.key);
      if (twin?.fingerprint === derived.fingerprint) {
        emit({ type: 'coalesced', key: derived.key });
        const result = await untilAborted(twin.promise, opts.signal);
        return { ...result, response: markReplayed(result.response), replayed: true };
      }
      if (!twin) {
        const promise = run(derived, plan, request, send, opts);
        const entry = { fingerprint: derived.fingerprint, promise };
        inflight.set(derived.key, entry);
        try {
          return await promise;
        } finally {
          if (inflight.get(derived.key) === entry) inflight.delete(derived.key);
        }
      }
    }
    return run(derived, plan, request, send, opts);
  }

  async function run(
    derived: Derived,
    plan: Plan,
    request: OutgoingRequest,
    send: Send,
    opts: ExecuteOptions,
  ) {
    const op: Operation = {
      derived,
      plan,
      request,
      send,
      options: opts,
      owner: randomUUID(),
      deadline: Date.now() + config.waitMs,
      leaseDeadline: 0,
      looks: 0,
      lastLookAt: 0,
    };
    let seen: IdempotencyRecord | undefined;
    for (;;) {
      opts.signal?.throwIfAborted();
      await pace(op);
      let record = seen;
      seen = undefined;
      if (!record) {
        let reserved: Awaited<ReturnType<IdempotencyStore['reserve']>>;
        const askedAt = performance.now();
        try {
          reserved = await store.reserve({
            key: derived.key,
            scope: derived.scope,
            fingerprint: derived.fingerprint,
            method: derived.method,
            target: derived.target,
            owner: op.owner,
            leaseMs: plan.leaseMs,
            ttlMs: plan.ttlMs,
            providerKey: plan.preset
              ? providerKeyFor(plan.preset, derived.hash, derived.explicitKey, 0)
              : undefined,
          });
        } catch (error) {
          const failure = asStoreError('reserve', error, derived.key);
          // A store that knows it lost records (name set by @oncely/redis) must not be bypassed:
          // failing open there would send exactly the writes whose records were lost.
          if (!config.failOpen || (error as Error)?.name === 'StoreResetError') throw failure;
          emit({ type: 'fail-open', key: derived.key, message: failure.message });
          return passthrough(request, send);
        }
        if (reserved.acquired) {
          op.leaseDeadline = askedAt + plan.leaseMs;
          emit({ type: 'reserved', key: derived.key, token: reserved.record.fencingToken });
          const step = await attempt(op, reserved.record);
          if ('done' in step) return step.done;
          seen = step.next;
          continue;
        }
        record = reserved.record;
      }
      const step = await onConflict(op, record);
      if ('done' in step) return step.done;
      seen = step.next;
    }
  }

  /**
   * Bounds the store calls of one operation: a record that keeps saying "look again" (a takeover
   * refused because the clocks disagree, a lease lost) is looked at with growing pauses, never in
   * a busy loop. The first looks are free: the usual paths need one to three.
   */
  async function pace(op: Operation): Promise<void> {
    op.looks++;
    if (op.looks > FREE_LOOKS) {
      const pause = Math.min(LOOK_PAUSE_MIN_MS * 2 ** (op.looks - FREE_LOOKS - 1), LOOK_PAUSE_MAX_MS);
      const wait = op.lastLookAt + pause - performance.now();
      const remaining = op.deadline - Date.now();
      if (remaining <= 0) throw new InFlightTimeoutError(op.derived.key, config.waitMs);
      if (wait > 0) await sleep(Math.min(wait, remaining), undefined, { signal: op.options.signal });
    }
    op.lastLookAt = performance.now();
  }

  async function onConflict(op: Operation, record: IdempotencyRecord): Promise<Step> {
    const { key, fingerprint } = op.derived;
    // The lease is the store's, so is the clock it is judged by: a client clock seconds off would
    // otherwise take a live lease for expired (and retry a refused takeover) or the reverse.
    switch (conflictAction(record, fingerprint, record.observedAt ?? Date.now())) {
      case 'replay':
        emit({ type: 'replayed', key, source: 'store', status: record.response?.status ?? 0 });
        return { done: { response: fromStored(record, config.sealer), replayed: true, key, guarded: true } };
      case 'wait':
        return { next: await waitForTwin(op, record) };
      case 'recover':
        return recover(op, record);
      case 'reject-unless-override': {
        const grant = op.options.override ?? record.overrideGrant;
        if (grant) return override(op, record, grant, op.options.override === undefined);
        break;
      }
      case 'reject':
        break;
    }
    emit({ type: 'mismatch', key, by: 'store' });
    throw new PayloadMismatchError(key, `the stored record is ${record.status}`);
  }

  async function waitForTwin(
    op: Operation,
    record: IdempotencyRecord,
  ): Promise<IdempotencyRecord | undefined> {
    const { key } = op.derived;
    const remaining = op.deadline - Date.now();
    if (remaining <= 0) throw new InFlightTimeoutError(key, config.waitMs);
    emit({ type: 'waiting', key, token: record.fencingToken });
    const { signal } = op.options;
    try {
      const next = await store.waitFor(key, remaining, signal);
      signal?.throwIfAborted();
      return next;
    } catch (error) {
      signal?.throwIfAborted(); // an abort is the caller's, not the store's failure
      throw asStoreError('waitFor', error, key);
    }
  }

  /** The earlier attempt's outcome is unknown: re-send under the provider's key, ask the hook, or refuse. */
  async function recover(op: Operation, record: IdempotencyRecord): Promise<Step> {
    const { key } = op.derived;
    const hook = op.plan.route?.rule.reconcile;
    const previous = record.status === 'in_flight' ? 'lease-expired' : 'unknown';
    if (!op.plan.preset && !hook) {
      throw new UnknownOutcomeError(
        key,
        previous === 'lease-expired'
          ? 'its owner stopped before recording an outcome (lease expired)'
          : 'an earlier attempt failed after the request may have been sent',
      );
    }
    if (previous === 'lease-expired' && !op.plan.preset) {
      // A hook asked at once could miss a write the stopped owner sent just before its lease ran out.
      const graceLeft =
        (record.leaseUntil ?? 0) + config.reconcileGraceMs - (record.observedAt ?? Date.now());
      if (graceLeft > 0) {
        await pauseWithin(op, graceLeft);
        return { next: undefined };
      }
    }
    const askedAt = performance.now();
    const taken = await storeCall('takeOver', key, () =>
      store.takeOver(key, {
        expectedToken: record.fencingToken,
        expectedStatus: record.status,
        owner: op.owner,
        leaseMs: op.plan.leaseMs,
        ttlMs: op.plan.ttlMs,
        audit: { at: Date.now(), action: 'takeover', detail: previous },
      }),
    );
    if (!taken.won) return { next: taken.record };
    op.leaseDeadline = askedAt + op.plan.leaseMs;
    const mine = taken.record;
    emit({ type: 'takeover', key, fromToken: record.fencingToken, token: mine.fencingToken, previous });
    // A provider that deduplicates natively makes a re-send under the same provider key safe.
    if (op.plan.preset) return attempt(op, mine);
    return reconcileWith(op, mine, hook!);
  }

  async function reconcileWith(
    op: Operation,
    mine: IdempotencyRecord,
    hook: NonNullable<NonNullable<ResolvedRoute['rule']['reconcile']>>,
  ): Promise<Step> {
    const { key } = op.derived;
    const token = mine.fencingToken;
    let verdict: ReconcileVerdict | undefined;
    let cause: unknown;
    // The hook may be slow (it asks the provider): keep the lease, or a twin takes over meanwhile.
    const keeper = keepLease(store, key, token, op.plan.leaseMs, emit, extendedAt(op));
    try {
      verdict = await hook({
        key,
        record: mine,
        request: op.derived.view,
        found: (response) => ({ found: response }),
        absent: () => ({ absent: true }),
      });
    } catch (error) {
      cause = error;
    } finally {
      keeper.stop();
    }
    if (verdict && 'found' in verdict) {
      let found: WireResponse;
      try {
        found = fromFound(verdict.found);
      } catch (error) {
        // A hook's response that cannot be replayed decides nothing: the outcome stays unknown.
        await settle('markUnknown', key, () =>
          store.markUnknown(key, token, 'reconcile found an invalid response', op.plan.ttlMs),
        );
        throw error;
      }
      return { done: await recordFound(op, token, found, 'found by the reconcile hook') };
    }
    if (verdict && 'absent' in verdict) {
      // "Absent" licenses a send only while the key is still ours: confirm it, fenced, before sending.
      const askedAt = performance.now();
      try {
        await store.extend(key, token, op.plan.leaseMs);
      } catch (error) {
        if (!(error instanceof LeaseLostError)) throw asStoreError('extend', error, key);
        emit({ type: 'lease-lost', key, token });
        return { next: undefined }; // someone else owns the key now: look again (wait, replay, ...)
      }
      op.leaseDeadline = askedAt + op.plan.leaseMs;
      emit({ type: 'reconciled', key, verdict: 'absent' });
      return attempt(op, mine);
    }
    await settle('markUnknown', key, () =>
      store.markUnknown(key, token, 'reconcile could not decide', op.plan.ttlMs),
    );
    emit({ type: 'reconciled', key, verdict: 'undecided' });
    throw new UnknownOutcomeError(key, 'the reconcile hook could not decide', cause);
  }

  async function override(
    op: Operation,
    record: IdempotencyRecord,
    grant: Override,
    granted: boolean,
  ): Promise<Step> {
    const { key, fingerprint } = op.derived;
    const askedAt = performance.now();
    const taken = await storeCall('takeOver', key, () =>
      store.takeOver(key, {
        expectedToken: record.fencingToken,
        expectedStatus: record.status,
        owner: op.owner,
        leaseMs: op.plan.leaseMs,
        ttlMs: op.plan.ttlMs,
        fingerprint,
        bumpRevision: true,
        consumeGrant: granted,
        audit: {
          at: Date.now(),
          action: 'override',
          reason: grant.reason,
          reviewer: grant.reviewer,
          fingerprint,
        },
      }),
    );
    if (!taken.won) return { next: taken.record };
    op.leaseDeadline = askedAt + op.plan.leaseMs;
    emit({
      type: 'override',
      key,
      reason: grant.reason,
      reviewer: grant.reviewer,
      revision: taken.record.revision,
      granted,
    });
    return attempt(op, taken.record);
  }

  /** One network attempt while holding the lease, then the record transition its result calls for. */
  async function attempt(op: Operation, record: IdempotencyRecord): Promise<Step> {
    const { key } = op.derived;
    const token = record.fencingToken;
    const { preset, ttlMs, leaseMs } = op.plan;
    const providerKey = preset
      ? providerKeyFor(preset, op.derived.hash, op.derived.explicitKey, record.revision)
      : undefined;
    const prepared = prepare(op, providerKey, record.attempts);
    const keeper = keepLease(store, key, token, leaseMs, emit, extendedAt(op));
    try {
      for (let round = 1; ; round++) {
        // The last moment oncely controls before bytes leave: past it, only the provider's key fences.
        if (!(await confirmLease(op, record, round))) return LOOK_AGAIN;
        emit({ type: 'sent', key, attempt: record.attempts, token });
        let response: WireResponse;
        try {
          response = await op.send(prepared);
        } catch (error) {
          if (wasNotSent(error)) {
            await settle('release', key, () => store.release(key, token));
            emit({ type: 'released', key, reason: 'not-sent' });
          } else {
            await settle('markUnknown', key, () => store.markUnknown(key, token, describe(error), ttlMs));
            emit({ type: 'unknown', key, cause: describe(error) });
          }
          throw error;
        }
        const live: ExecuteResult = { response, replayed: false, key, guarded: true };
        switch (classifyResponse(response, preset)) {
          case 'executed':
            await settle('complete', key, () =>
              store.complete(key, token, {
                response: toStored(response, key, op.derived.view, config, redactFailed(key)),
                ttlMs,
                providerKey,
              }),
            );
            emit({
              type: 'completed',
              key,
              status: response.status,
              providerReplayed: isProviderReplay(response, preset),
            });
            return { done: live };
          case 'not-executed':
            await settle('release', key, () => store.release(key, token));
            emit({ type: 'released', key, status: response.status, reason: 'not-executed' });
            return { done: live };
          case 'ambiguous':
            await settle('markUnknown', key, () =>
              store.markUnknown(key, token, `HTTP ${response.status}`, ttlMs),
            );
            emit({ type: 'unknown', key, cause: `HTTP ${response.status}` });
            return { done: live };
          case 'mismatch':
            await settle('release', key, () => store.release(key, token));
            emit({ type: 'released', key, status: response.status, reason: 'provider-mismatch' });
            emit({ type: 'mismatch', key, by: 'provider' });
            throw new PayloadMismatchError(
              key,
              'the provider refused the key',
              providerMessage(response, preset),
            );
          case 'existing':
            return { done: await fetchExisting(op, token, response) };
          case 'in-use': {
            // The provider still runs an earlier attempt under this key: wait, then ask again with the same key.
            emit({ type: 'provider-in-use', key, status: response.status, attempt: round });
            const delay =
              Math.min(BACKOFF_BASE_MS * 2 ** (round - 1), BACKOFF_MAX_MS) * (0.5 + Math.random() / 2);
            if (Date.now() + delay > op.deadline) {
              await settle('markUnknown', key, () =>
                store.markUnknown(key, token, 'provider kept the key in use', ttlMs),
              );
              throw new InFlightTimeoutError(key, config.waitMs);
            }
            try {
              await sleep(delay, undefined, { signal: op.options.signal });
            } catch (error) {
              // Aborted while the provider still runs an earlier attempt: the outcome is not known.
              await settle('markUnknown', key, () =>
                store.markUnknown(key, token, 'aborted while the key was in use', ttlMs),
              );
              throw op.options.signal?.reason ?? error;
            }
          }
        }
      }
    } finally {
      keeper.stop();
    }
  }

  /**
   * Before a send: the request may leave only while the lease is surely ours. A caller whose event
   * loop was blocked (a CPU-bound job), or whose store calls were slow, may have lost the lease
   * without knowing: another process may already have taken the key over and sent. With less than
   * half a lease left (by the local monotonic clock, counted from when we asked for it) the lease
   * is extended first — fenced, so it fails if anyone took over — and the send is given up if that
   * fails. An abort requested meanwhile also stops the send here. `true`: send now.
   */
  async function confirmLease(op: Operation, record: IdempotencyRecord, round: number): Promise<boolean> {
    const { key } = op.derived;
    const { leaseMs } = op.plan;
    const token = record.fencingToken;
    const { signal } = op.options;
    if (signal?.aborted) {
      await giveBack(op, record, round, 'aborted before sending');
      throw signal.reason;
    }
    for (let tries = 0; performance.now() > op.leaseDeadline - leaseMs / 2; tries++) {
      if (tries === CONFIRM_TRIES) {
        await giveBack(op, record, round, 'the lease could not be confirmed in time');
        throw new StoreUnavailableError(
          'extend',
          new Error(`the store did not confirm the lease with half of it (${leaseMs / 2} ms) left`),
          key,
        );
      }
      const askedAt = performance.now();
      try {
        await store.extend(key, token, leaseMs);
      } catch (error) {
        if (error instanceof LeaseLostError) {
          emit({ type: 'lease-lost', key, token });
          emit({ type: 'send-withheld', key, token, reason: 'lease-lost' });
          return false;
        }
        await giveBack(op, record, round, 'the store failed while confirming the lease');
        throw asStoreError('extend', error, key);
      }
      op.leaseDeadline = askedAt + leaseMs;
    }
    if (signal?.aborted) {
      await giveBack(op, record, round, 'aborted before sending');
      throw signal.reason;
    }
    return true;
  }

  /**
   * Gives the key back without sending: released when nothing was ever sent under it (a fresh
   * reservation, first round), else back to unknown (an earlier attempt or round may have executed).
   */
  async function giveBack(
    op: Operation,
    record: IdempotencyRecord,
    round: number,
    why: string,
  ): Promise<void> {
    const { key } = op.derived;
    const token = record.fencingToken;
    if (record.attempts === 1 && round === 1) {
      await settle('release', key, () => store.release(key, token));
      emit({ type: 'released', key, reason: 'not-sent' });
    } else {
      await settle('markUnknown', key, () => store.markUnknown(key, token, why, op.plan.ttlMs));
      emit({ type: 'unknown', key, cause: why });
    }
  }

  /** Keeps `op.leaseDeadline` up with the lease keeper's extends. */
  function extendedAt(op: Operation) {
    return (askedAt: number) => {
      op.leaseDeadline = Math.max(op.leaseDeadline, askedAt + op.plan.leaseMs);
    };
  }

  /** A pause inside the wait budget, ended early by an abort. */
  async function pauseWithin(op: Operation, ms: number): Promise<void> {
    const remaining = op.deadline - Date.now();
    if (remaining <= 0) throw new InFlightTimeoutError(op.derived.key, config.waitMs);
    await sleep(Math.min(ms, remaining), undefined, { signal: op.options.signal });
  }

  /**
   * The provider says an earlier attempt under this key already created a resource and names it:
   * fetch it and record it as the outcome. Anything short of a 2xx leaves the outcome unknown.
   */
  async function fetchExisting(op: Operation, token: number, conflict: WireResponse): Promise<ExecuteResult> {
    const { key } = op.derived;
    const url = existingResourceUrl(op.plan.preset, op.request.url, conflict);
    let found: WireResponse | undefined;
    let cause: unknown;
    if (url) {
      try {
        found = await lookUp(url, op.derived.view.headers);
      } catch (error) {
        cause = error;
      }
    }
    if (!found || found.status < 200 || found.status >= 300) {
      const detail = url
        ? `fetching the existing resource answered ${found?.status ?? describe(cause)}`
        : 'no resource id';
      await settle('markUnknown', key, () => store.markUnknown(key, token, detail, op.plan.ttlMs));
      emit({ type: 'reconciled', key, verdict: 'undecided' });
      throw new UnknownOutcomeError(key, `the provider reports an earlier creation, but ${detail}`, cause);
    }
    return recordFound(op, token, found, 'existing resource named by the provider');
  }

  /** Reconciliation found the outcome without sending: record it, and return it as a replay. */
  async function recordFound(op: Operation, token: number, found: WireResponse, detail: string) {
    const { key } = op.derived;
    await settle('complete', key, () =>
      store.complete(key, token, {
        response: toStored(found, key, op.derived.view, config, redactFailed(key)),
        ttlMs: op.plan.ttlMs,
        audit: { at: Date.now(), action: 'reconciled', token, detail },
      }),
    );
    emit({ type: 'reconciled', key, verdict: 'found' });
    return { response: markReplayed(found), replayed: true, key, guarded: true } satisfies ExecuteResult;
  }

  /** GET with the original request's headers minus those that describe its body or its key. */
  async function lookUp(url: string, headers: Record<string, string | undefined>): Promise<WireResponse> {
    const sent: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined && !LOOKUP_DROPPED_HEADERS.has(name) && name !== config.derive.keyHeader)
        sent[name] = value;
    }
    const response = await fetchImpl(url, { method: 'GET', headers: sent });
    const responseHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      responseHeaders[name] = value;
    });
    return {
      status: response.status,
      statusText: response.statusText,
      headers: responseHeaders,
      body: new Uint8Array(await response.arrayBuffer()),
    };
  }

  /** The provider's key goes where the preset says: a header, or a field of the body. */
  function prepare(op: Operation, providerKey: string | undefined, attemptNo: number): PreparedRequest {
    const { request, derived } = op;
    const prepared: PreparedRequest = {
      method: derived.method,
      url: request.url,
      setHeaders: {},
      body: undefined,
      key: derived.key,
      attempt: attemptNo,
    };
    const carry = op.plan.preset?.carry;
    if (!carry || providerKey === undefined) return prepared;
    if ('header' in carry) {
      prepared.setHeaders[carry.header.toLowerCase()] = formatHeaderValue(providerKey, carry.format);
    } else if (bodyFieldValue(derived, carry.bodyField) !== providerKey) {
      prepared.body = withBodyField(derived.body!, carry.bodyField, providerKey);
    }
    return prepared;
  }

  /** A store failure while recording must not hide the live response: it is reported instead. */
  async function settle(operation: string, key: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      const reason = error instanceof LeaseLostError ? 'lease-lost' : 'store-unavailable';
      if (reason === 'store-unavailable')
        emit({ type: 'store-error', key, operation, message: describe(error) });
      emit({ type: 'record-not-written', key, reason, operation });
    }
  }

  function redactFailed(key: string) {
    return (message: string) => emit({ type: 'redact-failed', key, message });
  }

  async function storeCall<T>(operation: string, key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw asStoreError(operation, error, key);
    }
  }

  function keyFor(request: OutgoingRequest, opts: ExecuteOptions = {}) {
    const plan = planFor(request.method.toUpperCase(), request.url, opts);
    if (!plan) return undefined;
    const { key, fingerprint } = derive(request, config.derive, plan.route?.rule.key, plan.preset, opts.key);
    return { key, fingerprint };
  }

  return {
    execute,
    isGuarded: (method, url, opts = {}) => planFor(method.toUpperCase(), url, opts) !== undefined,
    keyFor,
    store,
    namespace: config.namespace,
    maxBodyBytes: config.derive.maxBodyBytes,
    close: () => {
      detach?.();
      detachStore?.();
    },
  };
}

/** The promise, or the signal's reason if the caller aborts first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function passthrough(request: OutgoingRequest, send: Send): Promise<ExecuteResult> {
  const response = await send({
    method: request.method,
    url: request.url,
    setHeaders: {},
    body: undefined,
    key: undefined,
    attempt: 1,
  });
  return { response, replayed: false, key: undefined, guarded: false };
}

function checkOptions(options: ExecuteOptions): void {
  const { override, key } = options;
  if (override !== undefined) {
    if (typeof override?.reason !== 'string' || override.reason.trim() === '') {
      throw new ConfigError(
        'override.reason must be a non-empty string: say why this key may carry a different payload',
      );
    }
    if (typeof override.reviewer !== 'string' || override.reviewer.trim() === '') {
      throw new ConfigError('override.reviewer must be a non-empty string: name who reviewed the override');
    }
  }
  if (key !== undefined && (typeof key !== 'string' || key.trim() === '')) {
    throw new ConfigError('key must be a non-empty string');
  }
}

/** A provider that takes its key in a body field needs a body we can rewrite. */
function checkCarry(preset: ProviderPreset | undefined, derived: Derived): void {
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

function asStoreError(operation: string, error: unknown, key: string): IdempotencyError {
  return error instanceof IdempotencyError ? error : new StoreUnavailableError(operation, error, key);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message || error.name;
  }
  return String(error);
}
