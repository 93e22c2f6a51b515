// The CPU reference math: DESIGN.md's formulas as plain loops writing into caller-owned arrays. The CPU
// backend's eager ops and the CPU trainer both call these, so the two cannot drift apart. Values are
// stored as f32; sums run in f64 (JavaScript numbers) and are rounded once per output.
import type { OptimizerConfig } from '../trainer';
import type { Activation } from '../types';

/** The elementwise activations; softmax works on whole rows (softmaxInto). */
export type Elementwise = Exclude<Activation, 'softmax'>;

/** f(z) for one value. */
export function activate(kind: Elementwise, z: number): number {
  switch (kind) {
    case 'relu':
      // Not Math.max: a NaN z gives 0, as the wasm kernels' pmax does.
      // biome-ignore lint/complexity/useMathMinMax: NaN semantics
      return z > 0 ? z : 0;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-z));
    case 'tanh':
      return Math.tanh(z);
    case 'linear':
      return z;
  }
}

/** f'(z) written in terms of y = f(z), as DESIGN.md defines it. */
export function activateGrad(kind: Elementwise, y: number): number {
  switch (kind) {
    case 'relu':
      return y > 0 ? 1 : 0;
    case 'sigmoid':
      return y * (1 - y);
    case 'tanh':
      return 1 - y * y;
    case 'linear':
      return 1;
  }
}

/**
 * out[r, :] = softmax(z[r, :]) for each of the rows of `cols` values: exp(z − max) / Σ exp(z − max), the
 * row's maximum subtracted first so that no exp overflows. out may be z.
 */
export function softmaxInto(out: Float32Array, z: Float32Array, cols: number): void {
  for (let r = 0; r < z.length / cols; r++) {
    const row = z.subarray(r * cols, (r + 1) * cols);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    for (let j = 0; j < cols; j++) out[r * cols + j] = Math.exp(row[j] - max) / sum;
  }
}

/**
 * Σ over rows of the cross-entropy −Σ_j y_j log softmax(z)_j, from the logits z by log-sum-exp
 * (log softmax(z)_j = z_j − max − log Σ exp(z − max)), so rows with huge logits stay finite. f64.
 */
export function crossEntropySum(z: Float32Array, y: Float32Array, cols: number): number {
  let total = 0;
  for (let r = 0; r < z.length / cols; r++) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, z[r * cols + j]);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(z[r * cols + j] - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < cols; j++) {
      const t = y[r * cols + j];
      if (t !== 0) total += t * (lse - z[r * cols + j]);
    }
  }
  return total;
}

/**
 * out = (p − y) / batchRows: the gradient of the batch's mean cross-entropy with respect to the logits of
 * a softmax output p (the softmax's Jacobian folded in, so it never needs a pass of its own).
 */
export function crossEntropyGradInto(out: Float32Array, p: Float32Array, y: Float32Array, batchRows: number): void {
  const scale = Math.fround(1 / batchRows);
  for (let i = 0; i < p.length; i++) out[i] = scale * (p[i] - y[i]);
}

/** Rows whose largest prediction is where the target's largest value is (the first of ties). */
export function correctRows(p: Float32Array, y: Float32Array, cols: number): number {
  const argmax = (a: Float32Array, r: number) => {
    let best = 0;
    for (let j = 1; j < cols; j++) if (a[r * cols + j] > a[r * cols + best]) best = j;
    return best;
  };
  let right = 0;
  for (let r = 0; r < p.length / cols; r++) if (argmax(p, r) === argmax(y, r)) right++;
  return right;
}

export interface MatmulIntoOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  bias?: Float32Array;
  activation?: Activation;
}

/**
 * out = f(op(A)·op(B) + bias), M×K · K×N, with op = identity or transpose; aCols and bCols are the
 * stored row lengths. The loops run i, p, j so the inner loop walks a row of B and of the accumulator;
 * each out[i, j] is still the sum over p in ascending order, as in the textbook i, j, p order.
 */
export function matmulInto(
  out: Float32Array,
  a: Float32Array,
  aCols: number,
  b: Float32Array,
  bCols: number,
  m: number,
  k: number,
  n: number,
  opts: MatmulIntoOptions = {},
): void {
  const { transposeA = false, transposeB = false, bias, activation = 'linear' } = opts;
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const av = transposeA ? a[p * aCols + i] : a[i * aCols + p];
      if (transposeB) {
        for (let j = 0; j < n; j++) acc[j] += av * b[j * bCols + p];
      } else {
        const row = p * bCols;
        for (let j = 0; j < n; j++) acc[j] += av * b[row + j];
      }
    }
    for (let j = 0; j < n; j++) {
      // Round like the GPU does: the f32 sum, then the f32 bias add, then f.
      let z = Math.fround(acc[j]);
      if (bias) z = Math.fround(z + bias[j]);
      out[i * n + j] = activation === 'softmax' ? z : activate(activation, z);
    }
  }
  if (activation === 'softmax') softmaxInto(out, out, n);
}

/** out = f(x): elementwise, or row by row (rows of `cols`) for softmax. */
export function activationInto(out: Float32Array, x: Float32Array, kind: Activation, cols: number): void {
  if (kind === 'softmax') softmaxInto(out, x, cols);
  else for (let i = 0; i < x.length; i++) out[i] = activate(kind, x[i]);
}

/**
 * out = dy ⊙ f'(y), with y = f(z). For softmax the Jacobian product of each row (of `cols`):
 * dx_j = y_j (dy_j − Σ_k dy_k y_k). out may be dy.
 */
export function activationBackwardInto(
  out: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  kind: Activation,
  cols: number,
): void {
  if (kind !== 'softmax') {
    for (let i = 0; i < y.length; i++) out[i] = dy[i] * activateGrad(kind, y[i]);
    return;
  }
  for (let r = 0; r < y.length / cols; r++) {
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) out[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - dot);
  }
}

/** out[j] = Σ_i dz[i, j]: the bias gradient, column sums of a rows × cols matrix. */
export function biasGradInto(out: Float32Array, dz: Float32Array, rows: number, cols: number): void {
  for (let j = 0; j < cols; j++) {
    let sum = 0;
    for (let i = 0; i < rows; i++) sum += dz[i * cols + j];
    out[j] = sum;
  }
}

/** Σ (p − t)² over all elements, in f64. */
export function squaredErrorSum(p: Float32Array, t: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += (p[i] - t[i]) ** 2;
  return sum;
}

/** The f32 factor 2 / n of the exact MSE gradient over n elements (the GPU gets it as an f32 uniform). */
export function mseScale(n: number): number {
  return Math.fround(2 / n);
}

/**
 * out = 2 (p − t) / n ⊙ f'(p): the MSE gradient over n = p.length elements, already multiplied by the
 * output activation's derivative (with 'linear' it is the plain gradient dA, otherwise dZ).
 */
export function mseGradInto(out: Float32Array, p: Float32Array, t: Float32Array, activation: Elementwise = 'linear') {
  const scale = mseScale(p.length);
  for (let i = 0; i < p.length; i++) out[i] = scale * (p[i] - t[i]) * activateGrad(activation, p[i]);
}

/** The optimizer's per-step values: its configuration and Adam's bias corrections for this step. */
export type OptimizerStep = OptimizerConfig & { c1: number; c2: number };

/**
 * One optimizer update of one tensor, in place (optimizer.wgsl's CPU twin). s1, s2 are its state
 * tensors (momentum uses s1; Adam s1 = m, s2 = v). With `decay` (weights, not biases) the update also
 * takes lr · weightDecay · p off each value, p before this step (decoupled weight decay, AdamW's rule).
 *   sgd:      p −= lr · g
 *   momentum: s1 = μ · s1 + g;  p −= lr · s1
 *   adam:     s1 = β1 · s1 + (1 − β1) · g;  s2 = β2 · s2 + (1 − β2) · g²;
 *             p −= lr · (s1 / c1) / (√(s2 / c2) + ε)
 */
export function optimizerStepInto(
  o: OptimizerStep,
  p: Float32Array,
  g: Float32Array,
  s1?: Float32Array,
  s2?: Float32Array,
  decay = false,
): void {
  const lr = o.learningRate;
  const wd = decay ? o.weightDecay : 0;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    let step: number;
    if (o.type === 'sgd') {
      step = gi;
    } else if (o.type === 'momentum') {
      const v = s1 as Float32Array;
      v[i] = o.momentum * v[i] + gi;
      step = v[i];
    } else {
      const m = s1 as Float32Array;
      const v = s2 as Float32Array;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
      step = m[i] / o.c1 / (Math.sqrt(v[i] / o.c2) + o.epsilon);
    }
    p[i] -= lr * (step + wd * p[i]);
  }
}
