/**
 * The defaults of `createIdempotency`, in one place: config.ts applies them, and tools that must
 * agree with the engine (the CLI's response-file cap, docs) read them from here.
 */
export const DEFAULTS = Object.freeze({
  namespace: 'oncely',
  ttl: '24h',
  lease: '60s',
  waitTimeout: '30s',
  reconcileGrace: '2s',
  methods: Object.freeze(['POST', 'PATCH'] as const),
  keyHeader: 'idempotency-key',
  /** Bodies up to this size are canonicalised; plugins buffer one-shot bodies to the same cap. */
  maxBodyBytes: 4 * 1024 * 1024,
  /** Responses bigger than this are recorded without their body (`omitted: 'too-large'`). */
  maxResponseBytes: 1024 * 1024,
});
