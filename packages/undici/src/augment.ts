import type { OncelyRequestOptions } from './control.js';

declare module 'undici' {
  namespace Dispatcher {
    interface DispatchOptions {
      /** Per-request oncely options (`undici.request`, `dispatcher.request`, `dispatch`). Never sent. */
      oncely?: OncelyRequestOptions | undefined;
    }
  }
}
