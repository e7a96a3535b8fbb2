import { randomUUID } from 'node:crypto';
import { resolveConfig } from '../config.js';
import { conflictAction } from '../conflict.js';
import { derive } from '../derive.js';
import { ConfigError, PayloadMismatchError, StoreUnavailableError } from '../errors.js';
import { createEmitter } from '../events.js';
import { presetForHost } from '../providers.js';
import { fromStored, markReplayed } from '../responses.js';
import { findRoute } from '../routes.js';
import { normaliseTarget } from '../target.js';
import type {
  ExecuteOptions,
  ExecuteResult,
  Idempotency,
  IdempotencyOptions,
  IdempotencyRecord,
  OutgoingRequest,
  ReserveResult,
  Send,
} from '../types.js';
import { attempt } from './attempt.js';
import { type Engine, leaseGranted, type Operation, type Plan, type Step } from './operation.js';
import { pace, untilAborted, waitForOwner } from './pacing.js';
import { checkCarry, providerKeyOf } from './provider-key.js';
import { override, recover } from './recover.js';
import { asStoreError } from './store-calls.js';

/*
 * The engine: planning (is this request guarded, by which route and provider), coalescing of
 * identical calls in this process, and the loop that reserves the key and dispatches on what the
 * store holds (the conflict table). One attempt (attempt.ts), recovery and overrides (recover.ts),
 * the provider's key (provider-key.ts, existing.ts) and the store-failure policy (store-calls.ts)
 * live next to it; they share the `Operation` of operation.ts.
 */

export function createIdempotency(options: IdempotencyOptions = {}): Idempotency {
  const config = resolveConfig(options);
  const { store } = config;
  const emit = createEmitter(options.onEvent);
  const engine: Engine = {
    config,
    store,
    emit,
    fetch: options.fetch ?? ((url, init) => fetch(url, init)),
    pending: new Set(),
  };
  // A store that can lose records (Redis without persistence, a flush) says so through this hook.
  const detachStore = store.onStoreEvent?.((event) =>
    emit({ type: event.type, key: event.key ?? '', detail: event.detail }),
  );
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
    if (derived.sdkKey) emit({ type: 'sdk-key-replaced', key: derived.key, header: derived.sdkKey.header });
    const op: Operation = {
      engine,
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

    // Identical calls in this process share one reservation and one send.
    if (!opts.override) {
      const twin = inflight.get(derived.key);
      if (twin?.fingerprint === derived.fingerprint) {
        emit({ type: 'coalesced', key: derived.key });
        const result = await untilAborted(twin.promise, opts.signal);
        return { ...result, response: markReplayed(result.response), replayed: true };
      }
      if (!twin) {
        const promise = run(op);
        const entry = { fingerprint: derived.fingerprint, promise };
        inflight.set(derived.key, entry);
        const forget = () => {
          if (inflight.get(derived.key) === entry) inflight.delete(derived.key);
        };
        try {
          return await promise;
        } finally {
          // Recorded off the path (`record: 'after-return'`): until the record lands the store
          // holds it `in_flight`, so identical calls are answered here instead of waiting there.
          if (op.recorded) void op.recorded.then(forget);
          else forget();
        }
      }
    }
    return run(op);
  }

  /** Reserve the key; on a record already there, act as the conflict table says; repeat until done. */
  async function run(op: Operation): Promise<ExecuteResult> {
    const { derived, plan } = op;
    let seen: IdempotencyRecord | undefined;
    for (;;) {
      op.options.signal?.throwIfAborted();
      await pace(op);
      let record = seen;
      seen = undefined;
      if (!record) {
        let reserved: ReserveResult;
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
            providerKey: providerKeyOf(plan, derived, 0),
          });
        } catch (error) {
          const failure = asStoreError('reserve', error, derived.key);
          // A store that knows it lost records (name set by @oncely/redis) must not be bypassed:
          // failing open there would send exactly the writes whose records were lost.
          // Only an outage may fail open: a configuration fault (a foreign key layout) must not.
          const outage =
            failure instanceof StoreUnavailableError && (error as Error)?.name !== 'StoreResetError';
          if (!config.failOpen || !outage) throw failure;
          emit({ type: 'fail-open', key: derived.key, message: failure.message });
          return passthrough(op.request, op.send);
        }
        if (reserved.acquired) {
          leaseGranted(op, askedAt);
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

  async function onConflict(op: Operation, record: IdempotencyRecord): Promise<Step> {
    const { key, fingerprint } = op.derived;
    // The lease is the store's, so is the clock it is judged by: a client clock seconds off would
    // otherwise take a live lease for expired (and retry a refused takeover) or the reverse.
    switch (conflictAction(record, fingerprint, record.observedAt ?? Date.now())) {
      case 'replay':
        emit({ type: 'replayed', key, source: 'store', status: record.response?.status ?? 0 });
        return { done: { response: fromStored(record, config.sealer), replayed: true, key, guarded: true } };
      case 'wait':
        return { next: await waitForOwner(op, record) };
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

  function keyFor(request: OutgoingRequest, opts: ExecuteOptions = {}) {
    const plan = planFor(request.method.toUpperCase(), request.url, opts);
    if (!plan) return undefined;
    const { key, fingerprint } = derive(request, config.derive, plan.route?.rule.key, plan.preset, opts.key);
    return { key, fingerprint };
  }

  /** Every background record pending now (`record: 'after-return'`); each settles, none rejects. */
  async function flush(): Promise<void> {
    await Promise.all([...engine.pending]);
  }

  return {
    execute,
    isGuarded: (method, url, opts = {}) => planFor(method.toUpperCase(), url, opts) !== undefined,
    keyFor,
    store,
    namespace: config.namespace,
    maxBodyBytes: config.derive.maxBodyBytes,
    flush,
    close: () => {
      detach?.();
      detachStore?.();
      return flush();
    },
  };
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
