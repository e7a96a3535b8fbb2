import type { ExecuteOptions } from '@oncely/core';
import { type OncelyRequestOptions, readRequestOptions } from '@oncely/core/plugin';

export type { OncelyRequestOptions };

/**
 * got types `context` as `Record<string, unknown>` on a class, which module augmentation cannot
 * narrow; this helper gives the per-request options their type:
 * `client.post(url, { json, context: oncely({ key: 'order-42' }) })`.
 */
export function oncely(options: OncelyRequestOptions): { oncely: OncelyRequestOptions } {
  return { oncely: options };
}

/** Reads and checks `context.oncely` with core's validator, and adds got's signal. */
export function readExecuteOptions(
  context: Record<string, unknown>,
  signal: AbortSignal | undefined,
): ExecuteOptions {
  return { ...readRequestOptions(context.oncely, 'context.oncely'), signal };
}
