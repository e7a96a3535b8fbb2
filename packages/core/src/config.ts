import { DEFAULTS } from './defaults.js';
import type { DeriveConfig } from './derive.js';
import { toMs } from './duration.js';
import { ConfigError } from './errors.js';
import { checkPreset, type ProviderPreset, providerPresets, resolvePreset } from './providers.js';
import { type CompiledRoute, compileRoute } from './routes.js';
import { sdkKeyMatcher } from './sdk-keys.js';
import { createSealer, type Sealer } from './seal.js';
import { memoryStore } from './store/memory.js';
import type { IdempotencyOptions, IdempotencyStore, RouteRule } from './types.js';

const MAX_TTL_MS = toMs('90d', 'max ttl');

/** A route with its durations and preset resolved once, at construction. */
export interface ResolvedRoute extends CompiledRoute {
  preset: ProviderPreset | undefined;
  ttlMs: number;
  leaseMs: number;
}

export interface ResolvedConfig {
  store: IdempotencyStore;
  namespace: string;
  ttlMs: number;
  leaseMs: number;
  waitMs: number;
  /** After a lease expires, how long a reconcile hook waits before it asks (see types.ts). */
  reconcileGraceMs: number;
  methods: ReadonlySet<string>;
  routes: ResolvedRoute[];
  autoPresets: ProviderPreset[];
  derive: DeriveConfig;
  maxResponseBytes: number;
  /** The user's extra names; the patterns of secrets.ts always apply. */
  sensitiveResponseHeaders: ReadonlySet<string>;
  sealer: Sealer | undefined;
  redactResponse: IdempotencyOptions['redactResponse'];
  failOpen: boolean;
  /** `'after-return'`: an executed outcome is recorded off the caller's path (see types.ts `record`). */
  record: 'before-return' | 'after-return';
}

/** Validates every option up front: a bad configuration fails at construction, never mid-request. */
export function resolveConfig(options: IdempotencyOptions): ResolvedConfig {
  const namespace = options.namespace ?? DEFAULTS.namespace;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(namespace)) {
    throw new ConfigError(
      `namespace '${namespace}' must be 1-64 characters of letters, digits, '.', '_' or '-'`,
    );
  }
  const ttlMs = toMs(options.ttl ?? DEFAULTS.ttl, 'ttl');
  const leaseMs = toMs(options.lease ?? DEFAULTS.lease, 'lease');
  checkDurations(ttlMs, leaseMs, 'options');
  const waitMs = toMs(options.wait?.timeout ?? DEFAULTS.waitTimeout, 'wait.timeout');
  const methods = new Set((options.methods ?? DEFAULTS.methods).map((m) => m.toUpperCase()));
  const routes = (options.routes ?? []).map((rule, index) => resolveRoute(rule, index, ttlMs, leaseMs));
  const autoPresets = resolveAutoPresets(options.providers);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULTS.maxResponseBytes;
  for (const [name, value] of [
    ['maxBodyBytes', maxBodyBytes],
    ['maxResponseBytes', maxResponseBytes],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new ConfigError(`${name} must be a non-negative integer`);
  }
  return {
    store: options.store ?? memoryStore(),
    namespace,
    ttlMs,
    leaseMs,
    waitMs,
    reconcileGraceMs: toMs(options.reconcileGrace ?? DEFAULTS.reconcileGrace, 'reconcileGrace'),
    methods,
    routes,
    autoPresets,
    derive: {
      namespace,
      keyHeader: (options.keyHeader ?? DEFAULTS.keyHeader).toLowerCase(),
      // Every preset's tenant headers, whether or not a route names the preset: a call to the
      // provider's host without the route is still scoped by them.
      credentialHeaders: new Set(
        [
          ...headerNames(options.credentialHeaders, 'credentialHeaders'),
          ...[...Object.values(providerPresets), ...autoPresets, ...routes.map((r) => r.preset)].flatMap(
            (preset) => preset?.tenantHeaders ?? [],
          ),
        ].map((h) => h.toLowerCase()),
      ),
      volatileHeaders: new Set(
        headerNames(options.volatileHeaders, 'volatileHeaders').map((h) => h.toLowerCase()),
      ),
      maxBodyBytes,
      scope: options.scope,
      isSdkKey: sdkKeyMatcher(sdkKeyOption(options.sdkKeys)),
    },
    maxResponseBytes,
    sensitiveResponseHeaders: new Set(
      headerNames(options.sensitiveResponseHeaders, 'sensitiveResponseHeaders').map((h) => h.toLowerCase()),
    ),
    sealer: options.encryption === undefined ? undefined : createSealer(options.encryption),
    redactResponse: checkFunction(options.redactResponse, 'redactResponse'),
    failOpen: options.onStoreError === 'fail-open',
    record: recordOption(options.record),
  };
}

function headerNames(names: readonly string[] | undefined, option: string): readonly string[] {
  if (names === undefined) return [];
  if (
    !Array.isArray(names) ||
    names.some((h) => typeof h !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h))
  ) {
    throw new ConfigError(`${option} must be an array of header names`);
  }
  return names;
}

function checkFunction<T>(value: T, option: string): T {
  if (value !== undefined && typeof value !== 'function')
    throw new ConfigError(`${option} must be a function`);
  return value;
}

function resolveAutoPresets(providers: IdempotencyOptions['providers']): ProviderPreset[] {
  if (providers === undefined) return [];
  if (providers === 'auto') return Object.values(providerPresets);
  if (!Array.isArray(providers)) throw new ConfigError("providers must be 'auto' or an array of presets");
  return providers.map((preset, index) => {
    checkPreset(preset, `providers[${index}]`);
    return preset;
  });
}

function resolveRoute(rule: RouteRule, index: number, ttlMs: number, leaseMs: number): ResolvedRoute {
  const compiled = compileRoute(rule, index);
  const preset = resolvePreset(rule.provider, `routes[${index}].provider`);
  const key = rule.key;
  if (key !== undefined && typeof key !== 'function') {
    const paths = 'fields' in key ? key.fields : 'ignore' in key ? key.ignore : undefined;
    if (!Array.isArray(paths) || paths.length === 0 || paths.some((p) => typeof p !== 'string' || p === '')) {
      throw new ConfigError(
        `routes[${index}].key must be { fields: [...] }, { ignore: [...] } (non-empty dot paths) or a function`,
      );
    }
  }
  // A provider keeps keys for its retention: ours must last at least as long, within the cap.
  const retentionMs =
    preset?.retention === undefined ? 0 : toMs(preset.retention, `${preset.name}.retention`);
  const routeTtl =
    rule.ttl === undefined
      ? Math.min(Math.max(ttlMs, retentionMs), MAX_TTL_MS)
      : toMs(rule.ttl, `routes[${index}].ttl`);
  const routeLease = rule.lease === undefined ? leaseMs : toMs(rule.lease, `routes[${index}].lease`);
  checkDurations(routeTtl, routeLease, `routes[${index}]`);
  return { ...compiled, preset, ttlMs: routeTtl, leaseMs: routeLease };
}

function checkDurations(ttlMs: number, leaseMs: number, where: string): void {
  if (leaseMs < 10) throw new ConfigError(`${where}: lease must be at least 10 ms (got ${leaseMs} ms)`);
  if (ttlMs < leaseMs) {
    throw new ConfigError(
      `${where}: ttl (${ttlMs} ms) must be at least the lease (${leaseMs} ms), or records would expire mid-call`,
    );
  }
  if (ttlMs > MAX_TTL_MS) throw new ConfigError(`${where}: ttl must be at most 90d (got ${ttlMs} ms)`);
}

function sdkKeyOption(value: IdempotencyOptions['sdkKeys']): ReadonlyArray<string | RegExp> {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    !value.every((p) => (typeof p === 'string' && p !== '') || p instanceof RegExp)
  ) {
    throw new ConfigError('sdkKeys must be an array of non-empty key prefixes (strings) or RegExps');
  }
  return value;
}

function recordOption(value: IdempotencyOptions['record']): ResolvedConfig['record'] {
  if (value === undefined) return 'before-return';
  if (value !== 'before-return' && value !== 'after-return')
    throw new ConfigError("record must be 'before-return' or 'after-return'");
  return value;
}
