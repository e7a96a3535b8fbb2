// Shared by the supervisor and the workers: the list of logical operations and a seeded RNG.
// Plain ESM (no build step): child processes run it directly with node.

/**
 * @typedef {'native' | 'plain-rec' | 'plain-bare'} Api
 * @typedef {{ index: number, ref: string, api: Api, path: string, body: { ref: string, amount: number, note: string } }} Op
 */

/** mulberry32: small, fast, good enough to shuffle and to draw faults. @param {number} seed */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The N logical operations every worker runs. Half go to the native-key API, the rest to the plain
 * API: most plain routes have a reconcile hook (`/plain/rec/`), about one in six has none
 * (`/plain/bare/`), so unknown outcomes stay unknown there.
 * @param {number} n @param {number} seed @returns {Op[]}
 */
export function makeOps(n, seed) {
  const random = rng(seed);
  /** @type {Op[]} */
  const ops = [];
  for (let index = 0; index < n; index++) {
    const draw = random();
    /** @type {Api} */
    const api = draw < 0.5 ? 'native' : draw < 0.85 ? 'plain-rec' : 'plain-bare';
    const ref = `op-${seed}-${index}`;
    const path =
      api === 'native' ? '/native/charges' : api === 'plain-rec' ? '/plain/rec/orders' : '/plain/bare/orders';
    ops.push({ index, ref, api, path, body: { ref, amount: 100 + index, note: `chaos ${index}` } });
  }
  return ops;
}

/** Fisher–Yates with a seeded RNG. @template T @param {T[]} items @param {() => number} random */
export function shuffle(items, random) {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = /** @type {T} */ (out[i]);
    out[i] = /** @type {T} */ (out[j]);
    out[j] = tmp;
  }
  return out;
}
