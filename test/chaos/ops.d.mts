/** mulberry32: a seeded random source in [0, 1). */
export function rng(seed: number): () => number;
