// Plain-loop references for the wasm engine's ops, written from DESIGN.md's math (f64 sums, rounded to
// f32 once), independent of the engine and of the CPU backend, plus the random inputs the tests use.
import { mulberry32 } from '../../src/random';

export type Act = 'linear' | 'relu' | 'sigmoid' | 'tanh';
export const ACTS: Act[] = ['linear', 'relu', 'sigmoid', 'tanh'];

export function f(kind: Act, z: number): number {
  // Not Math.max: a NaN z gives 0, as in the CPU reference.
  // biome-ignore lint/complexity/useMathMinMax: NaN semantics
  if (kind === 'relu') return z > 0 ? z : 0;
  if (kind === 'sigmoid') return 1 / (1 + Math.exp(-z));
  if (kind === 'tanh') return Math.tanh(z);
  return z;
}

/** f'(z) in terms of y = f(z). */
export function df(kind: Act, y: number): number {
  if (kind === 'relu') return y > 0 ? 1 : 0;
  if (kind === 'sigmoid') return y * (1 - y);
  if (kind === 'tanh') return 1 - y * y;
  return 1;
}

/** Uniform values in [lo, hi) from a seed. */
export function random(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());
}

export interface GemmSpec {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  lda?: number;
  ldb?: number;
  ldc?: number;
}

/**
 * P = opA(A)·opB(B) with the engine's storage conventions, in f64 (unrounded), and beside it Σ_q |a·b| per
 * output, which bounds the f32 rounding error.
 */
export function product(a: Float32Array, b: Float32Array, s: GemmSpec): { p: Float64Array; mag: Float64Array } {
  const { m, n, k, transA = false, transB = false } = s;
  const lda = s.lda ?? (transA ? m : k);
  const ldb = s.ldb ?? (transB ? k : n);
  const p = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      let abs = 0;
      for (let q = 0; q < k; q++) {
        const x = (transA ? a[q * lda + i] : a[i * lda + q]) * (transB ? b[j * ldb + q] : b[q * ldb + j]);
        sum += x;
        abs += Math.abs(x);
      }
      p[i * n + j] = sum;
      mag[i * n + j] = abs;
    }
  }
  return { p, mag };
}

export interface EpilogueSpec {
  epilogue: 'forward' | 'grad' | 'sgd' | 'add';
  activation: Act;
  bias?: Float32Array;
  aux?: Float32Array;
  lr?: number;
  wd?: number;
}

/** The engine's epilogues on an exact product, written into a copy of c (row length ldc). */
export function epilogue(p: Float64Array, c: Float32Array, s: GemmSpec, e: EpilogueSpec): Float32Array {
  const out = c.slice();
  const ldc = s.ldc ?? s.n;
  for (let i = 0; i < s.m; i++) {
    for (let j = 0; j < s.n; j++) {
      const at = i * ldc + j;
      const v = p[i * s.n + j];
      if (e.epilogue === 'forward') out[at] = f(e.activation, v + (e.bias ? e.bias[j] : 0));
      else if (e.epilogue === 'grad') out[at] = v * df(e.activation, (e.aux as Float32Array)[at]);
      else if (e.epilogue === 'add') out[at] = c[at] + v;
      else out[at] = c[at] - (e.lr as number) * (v + (e.wd ?? 0) * c[at]);
    }
  }
  return out;
}
