import type { ErrorCode } from '@oncely/core';
import type { OncelyRequestOptions } from '@oncely/core/plugin';

/** The per-request `oncely` option of an axios config (core's plugin kit type, shared by every plugin). */
export type { OncelyRequestOptions };

/** What oncely did with a response: `response.oncely`. */
export interface OncelyResponseInfo {
  /** True when nothing was sent for this call: the response came from the store or an in-flight twin. */
  replayed: boolean;
  /** The store key (a hash), `undefined` when the request was not guarded. */
  key: string | undefined;
  /**
   * Set only on a refusal answered as a response (`refusals: 'slack'`): the oncely code. Nothing
   * was sent for this call.
   */
  refused?: ErrorCode | undefined;
}

// Type parameters repeat axios' own declarations exactly, as declaration merging requires.
declare module 'axios' {
  // biome-ignore lint/suspicious/noExplicitAny: mirrors axios' declaration
  interface AxiosRequestConfig<D = any, P = any> {
    oncely?: OncelyRequestOptions | undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny lint/complexity/noBannedTypes: mirrors axios' declaration
  interface AxiosResponse<T = any, D = any, H = {}, P = any> {
    /** Set on every response of a guarded request. */
    oncely?: OncelyResponseInfo | undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny: mirrors axios' declaration
  interface AxiosError<T = unknown, D = any, P = any> {
    /** The oncely error code when oncely refused the call (also `code`; the oncely error is `cause`). */
    oncelyCode?: ErrorCode | undefined;
  }
}
