// Seeded randomness generated on the CPU, so the same seed gives bit-identical initial weights and batch
// orders on every backend. mulberry32: small, fast, and good enough for initialisation and shuffling.
import type { Activation } from './types';

export type Rng = () => number;

/** Uniform in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): Rng {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Initial weights for an [fanIn, fanOut] layer: He uniform for relu (limit √(6 / fanIn)), Glorot/Xavier
 * uniform for sigmoid and linear (limit √(6 / (fanIn + fanOut))). Biases start at zero.
 */
export function initWeights(rng: Rng, fanIn: number, fanOut: number, activation: Activation): Float32Array {
  const limit = activation === 'relu' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
  const w = new Float32Array(fanIn * fanOut);
  for (let i = 0; i < w.length; i++) w[i] = (2 * rng() - 1) * limit;
  return w;
}

/** A Fisher–Yates shuffle of 0..n-1 (or the identity when rng is undefined). */
export function permutation(n: number, rng?: Rng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  if (rng) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
  }
  return p;
}
