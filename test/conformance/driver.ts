import type { Idempotency, Override } from '@oncely/core';

/**
 * What the shared conformance suite needs from a plugin: a way to build a client around an
 * `Idempotency` instance and to make calls through it the way a user would.
 * One file per plugin implements it: `drivers/axios.ts`, `drivers/got.ts`, `drivers/undici.ts`.
 */
export interface ClientDriver {
  name: 'axios' | 'got' | 'undici';
  /** A client with the plugin installed and, when `retries > 0`, the client's own retry enabled for POST. */
  create(idem: Idempotency, options: DriverOptions): DriverClient;
  /** The same client configured the same way, without the plugin (to prove unguarded requests are untouched). */
  bare(options: DriverOptions): DriverClient;
}

export interface DriverOptions {
  baseUrl: string;
  /** How many times the client's own retry mechanism may retry a POST (network errors and 5xx). 0 = off. */
  retries: number;
}

export interface CallOptions {
  key?: string;
  skip?: boolean;
  override?: Override;
  headers?: Record<string, string>;
}

export interface DriverResponse {
  status: number;
  /** Parsed JSON body (or text when not JSON). */
  body: unknown;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The plugin's documented "was this replayed?" answer (header `oncely-replayed` or typed property). */
  replayed: boolean;
}

/**
 * `request` resolves for every HTTP status (the driver turns off the client's "throw on 4xx/5xx")
 * and rejects with the client's own error for transport failures and oncely errors.
 */
export interface DriverClient {
  request(method: string, path: string, body?: unknown, options?: CallOptions): Promise<DriverResponse>;
  close(): Promise<void>;
}

/** What a client-native error must expose for oncely failures (asserted per client). */
export interface NativeErrorShape {
  /** The oncely error code, e.g. `ONCELY_PAYLOAD_MISMATCH`, reachable from the client's error. */
  oncelyCode(error: unknown): string | undefined;
  /** True when `error` is the client's own error type (AxiosError, got RequestError, undici error). */
  isNative(error: unknown): boolean;
}
