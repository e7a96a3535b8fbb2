/** Stable error codes: match on `error.code`, never on the message. */
export const ErrorCode = {
  PayloadMismatch: 'ONCELY_PAYLOAD_MISMATCH',
  InFlightTimeout: 'ONCELY_IN_FLIGHT_TIMEOUT',
  UnknownOutcome: 'ONCELY_UNKNOWN_OUTCOME',
  StoreUnavailable: 'ONCELY_STORE_UNAVAILABLE',
  KeyDerivation: 'ONCELY_KEY_DERIVATION',
  LeaseLost: 'ONCELY_LEASE_LOST',
  Config: 'ONCELY_CONFIG',
  ReplayUnavailable: 'ONCELY_REPLAY_UNAVAILABLE',
  RecordNotFound: 'ONCELY_RECORD_NOT_FOUND',
  RecordChanged: 'ONCELY_RECORD_CHANGED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Every oncely error carries the names of its classes under this registered symbol. Two copies of
 * core (a plugin resolving its own) have two sets of classes; `instanceof` compares brands, so an
 * error thrown by one copy is still recognised by the other, class by class.
 */
const ERROR_BRAND = Symbol.for('oncely.error');

/** Base class of every error oncely throws. `key` is the store key (a hash), never a secret. */
export class IdempotencyError extends Error {
  readonly code: ErrorCode;
  readonly key: string | undefined;

  /** True for instances of this class from any copy of core: the value is branded with this class's name. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of `instanceof`, a subclass included
    return isBrandedInstance(this, value);
  }

  constructor(code: ErrorCode, message: string, options: { key?: string | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.key = options.key;
    // Non-enumerable, so loggers and JSON do not show it.
    Object.defineProperty(this, ERROR_BRAND, { value: classNames(new.target) });
  }
}

function isBrandedInstance(target: abstract new (...args: never[]) => unknown, value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(target, value)) return true;
  const brand = (value as { [ERROR_BRAND]?: unknown } | null | undefined)?.[ERROR_BRAND];
  return Array.isArray(brand) && brand.includes(target.name);
}

/** The names of a class and its ancestors up to `IdempotencyError`: a `LeaseLostError` is no `PayloadMismatchError`. */
function classNames(target: abstract new (...args: never[]) => unknown): readonly string[] {
  const names: string[] = [];
  for (let current: unknown = target; current !== Error && typeof current === 'function'; ) {
    names.push(current.name);
    current = Object.getPrototypeOf(current);
  }
  return Object.freeze(names);
}

/** The key was used before with a different payload. Nothing was sent. */
export class PayloadMismatchError extends IdempotencyError {
  /** The provider's own message when the provider detected the mismatch. */
  readonly providerMessage: string | undefined;
  constructor(key: string, detail?: string, providerMessage?: string) {
    super(
      ErrorCode.PayloadMismatch,
      `Idempotency key ${short(key)} was already used with a different payload${detail ? ` (${detail})` : ''}. ` +
        'Nothing was sent. Use a new key for a new operation, or pass override: { reason, reviewer } if this change is reviewed.',
      { key },
    );
    this.providerMessage = providerMessage;
  }
}

/** A twin request held the key for longer than `wait.timeout`. Nothing was sent. */
export class InFlightTimeoutError extends IdempotencyError {
  constructor(key: string, waitedMs: number) {
    super(
      ErrorCode.InFlightTimeout,
      `Another attempt of the same operation (key ${short(key)}) is still in flight after waiting ${waitedMs} ms. ` +
        'Nothing was sent. Retry later; the in-flight attempt will either complete (and be replayed) or its lease will expire.',
      { key },
    );
  }
}

/** An earlier attempt may or may not have reached the server, and it cannot be decided automatically. Nothing was sent. */
export class UnknownOutcomeError extends IdempotencyError {
  constructor(key: string, detail: string, cause?: unknown) {
    super(
      ErrorCode.UnknownOutcome,
      `The outcome of an earlier attempt for key ${short(key)} is unknown (${detail}). Nothing was sent. ` +
        'Add a reconcile hook to the route, or check the provider and run `oncely resolve` for this key.',
      { key, cause },
    );
  }
}

/** The store could not be reached; the request was not sent (fail closed). */
export class StoreUnavailableError extends IdempotencyError {
  constructor(operation: string, cause: unknown, key?: string) {
    super(
      ErrorCode.StoreUnavailable,
      `The idempotency store is unavailable (${operation}: ${describe(cause)}). Nothing was sent; retry when the store is back.`,
      { key, cause },
    );
  }
}

/** No deterministic key could be derived from the request. Nothing was sent. */
export class KeyDerivationError extends IdempotencyError {
  constructor(message: string, cause?: unknown) {
    super(
      ErrorCode.KeyDerivation,
      `${message}. Nothing was sent. Pass an explicit key (per-request \`key\` option or an Idempotency-Key header) or a route key rule.`,
      { cause },
    );
  }
}

/** The lease on a key was taken over by another owner: this attempt may not write the record. */
export class LeaseLostError extends IdempotencyError {
  constructor(key: string, detail = 'the fencing token is stale') {
    super(
      ErrorCode.LeaseLost,
      `Lost the lease on key ${short(key)}: ${detail}. The record belongs to a newer owner and was not overwritten.`,
      { key },
    );
  }
}

/** Invalid configuration or per-request options. Nothing was sent. */
export class ConfigError extends IdempotencyError {
  constructor(message: string) {
    super(ErrorCode.Config, message);
  }
}

/** A one-shot request body yielded a chunk that is neither text nor bytes. Nothing was sent. */
export class BodyChunkError extends ConfigError {
  constructor(chunk: unknown) {
    super(`Request body chunks must be strings or bytes, got ${chunk === null ? 'null' : typeof chunk}`);
  }
}

/** The operation completed, but its response was not stored (too large), so it cannot be replayed. Nothing was sent. */
export class ReplayUnavailableError extends IdempotencyError {
  readonly status: number;
  constructor(key: string, status: number, reason: string) {
    super(
      ErrorCode.ReplayUnavailable,
      `The operation for key ${short(key)} already completed with status ${status}, but its response cannot be replayed (${reason}). Nothing was sent.`,
      { key },
    );
    this.status = status;
  }
}

/** An operator command named a key that is not in the store. */
export class RecordNotFoundError extends IdempotencyError {
  constructor(key: string) {
    super(ErrorCode.RecordNotFound, `No record for key ${key}.`, { key });
  }
}

export function isIdempotencyError(value: unknown): value is IdempotencyError {
  return value instanceof IdempotencyError;
}

function short(key: string): string {
  return key.length > 24 ? `${key.slice(0, 24)}…` : key;
}

function describe(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name;
  return String(cause);
}

/** An operator's change found the record changed since it was read (compare-and-set). Nothing was changed. */
export class RecordChangedError extends IdempotencyError {
  readonly token: number;
  readonly status: string;
  constructor(key: string, token: number, status: string) {
    super(
      ErrorCode.RecordChanged,
      `The record ${key} changed since it was read (it is now ${status} with token ${token}): someone else ` +
        '(the engine or another operator) acted on it first. Nothing was changed. Inspect it again and decide anew.',
      { key },
    );
    this.token = token;
    this.status = status;
  }
}
