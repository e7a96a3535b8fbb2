import { StoreUnavailableError } from '@oncely/core';
import { commandName, SCRIPTS, type ScriptCall } from './scripts.js';

/**
 * The part of an ioredis 5/6 `Redis` or `Cluster` the store uses. Structural, so both majors
 * (and both client kinds) fit without importing either's types.
 */
export interface RedisClient {
  readonly status: string;
  readonly isCluster: boolean;
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  // biome-ignore lint/suspicious/noExplicitAny: ioredis' own signatures differ between majors
  duplicate(...args: any[]): RedisClient;
  // biome-ignore lint/suspicious/noExplicitAny: ioredis' own signatures differ between majors
  on(event: string, listener: (...args: any[]) => void): unknown;
  subscribe(...channels: string[]): Promise<unknown>;
  get(key: string): Promise<string | null>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  /** Any command (INFO, CONFIG GET, WAIT, WAITAOF). */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** Cluster only: the node clients (the masters, for per-node checks). */
  nodes?(role?: 'master' | 'slave' | 'all'): RedisClient[];
  // biome-ignore lint/suspicious/noExplicitAny: ioredis' own signatures differ between majors
  pipeline(): any;
  disconnect(): void;
}

/** States in which a command would sit in ioredis' offline queue: fail fast instead. */
const DOWN_STATES = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

type Invoke = (...args: (string | number)[]) => Promise<unknown>;

/** Registers every script on the client once (ioredis then uses EVALSHA, falling back to EVAL). */
export function defineScripts(client: RedisClient): void {
  for (const script of SCRIPTS) {
    client.defineCommand(commandName(script), { lua: script.source, numberOfKeys: script.keys.length });
  }
}

export interface CallOptions {
  operation: string;
  key: string;
  timeoutMs: number;
  /** Runs if the command finishes after it was reported as failed (to undo a late reservation). */
  onLate?: ((value: unknown) => void) | undefined;
}

/** Runs one script call (built by `args`), bounded in time; transport failures become `StoreUnavailableError`. */
export async function runScript(
  client: RedisClient,
  call: ScriptCall,
  options: CallOptions,
): Promise<unknown> {
  return bounded(client, options, () => {
    const invoke = (client as unknown as Record<string, Invoke>)[commandName(call.script)]!;
    return invoke.call(client, ...call.keys, ...call.argv);
  });
}

/** Bounds any client call: refuses at once when the client is down, gives up after `timeoutMs`. */
export async function bounded<T>(
  client: RedisClient,
  options: CallOptions,
  call: () => Promise<T>,
): Promise<T> {
  const { operation, key, timeoutMs } = options;
  if (DOWN_STATES.has(client.status)) {
    throw new StoreUnavailableError(operation, new Error(`the Redis client is ${client.status}`), key);
  }
  let timer: NodeJS.Timeout | undefined;
  let gaveUp = false;
  const pending = call();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      gaveUp = true;
      reject(new StoreUnavailableError(operation, new Error(`no reply within ${timeoutMs} ms`), key));
    }, timeoutMs);
  });
  if (options.onLate) {
    const onLate = options.onLate;
    pending.then(
      (value) => gaveUp && onLate(value),
      () => undefined,
    );
  }
  try {
    return await Promise.race([pending, timeout]);
  } catch (error) {
    if (error instanceof StoreUnavailableError) throw error;
    throw new StoreUnavailableError(operation, error, key);
  } finally {
    clearTimeout(timer);
  }
}
