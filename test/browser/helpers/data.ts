// Seeded test data for the browser specs: random matrices, a learnable data set, a spiral.
import { mulberry32 } from '../../../src/random';

/** Deterministic uniform values in [lo, hi) (the library's mulberry32). */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
}

/** Targets in [0, 1) from a fixed random teacher, so every output is learnable. */
export function dataset(rows: number, inputs: number, outputs: number, seed: number) {
  const x = rand(rows * inputs, seed);
  const y = rand(rows * outputs, seed + 1, 0, 1);
  return { x, y };
}

/** Inputs in [-1, 1) and one-hot targets of a class that a fixed random teacher picks (learnable). */
export function classes(rows: number, inputs: number, outputs: number, seed: number) {
  const x = rand(rows * inputs, seed);
  const teacher = rand(inputs * outputs, seed + 1);
  const y = new Float32Array(rows * outputs);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < outputs; c++) {
      let score = 0;
      for (let i = 0; i < inputs; i++) score += x[r * inputs + i] * teacher[i * outputs + c];
      if (score > bestScore) [best, bestScore] = [c, score];
    }
    y[r * outputs + best] = 1;
  }
  return { x, y };
}

/** `perClass` points on each of `arms` spiral arms with Gaussian-ish noise; one-hot targets. */
export function spiral(perClass: number, arms: number, noise: number, seed: number) {
  const r = rand(perClass * arms * 2, seed, -1, 1);
  const n = perClass * arms;
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n * arms);
  const labels = new Uint32Array(n);
  for (let c = 0; c < arms; c++) {
    for (let i = 0; i < perClass; i++) {
      const k = c * perClass + i;
      const t = i / perClass;
      const angle = (c * 2 * Math.PI) / arms + t * 1.75 * 2 * Math.PI;
      x[2 * k] = t * Math.cos(angle) + noise * r[2 * k] * t;
      x[2 * k + 1] = t * Math.sin(angle) + noise * r[2 * k + 1] * t;
      y[k * arms + c] = 1;
      labels[k] = c;
    }
  }
  return { x, y, labels };
}

/** Share of rows whose argmax matches the label. */
export function accuracy(pred: Float32Array, labels: Uint32Array, classes: number): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (pred[i * classes + c] > pred[i * classes + best]) best = c;
    if (best === labels[i]) right++;
  }
  return right / labels.length;
}
