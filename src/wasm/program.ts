// The ops a wasm engine program is made of, each one's semantics documented on its type; encode.ts checks
// them and encodes them into the words the kernels' interpreter reads (layout.ts). Buffers are WasmBuffers
// of the engine; counts are elements. "May alias" means the very same buffer region; any other overlap
// between an op's inputs and outputs is refused.
import type { WasmBuffer } from './buffer';
import * as L from './layout';

export type EngineActivation = 'linear' | 'relu' | 'sigmoid' | 'tanh';
export const ACTIVATION_CODE: Record<EngineActivation, number> = {
  linear: L.ACT_LINEAR,
  relu: L.ACT_RELU,
  sigmoid: L.ACT_SIGMOID,
  tanh: L.ACT_TANH,
};

/**
 * C = epilogue(P), P = opA(A) · opB(B) (m×k · k×n → m×n), summed in f32 in order k = 0, 1, …, K−1.
 * A is stored m×k (row length lda, default k) or with transA k×m (lda default m); B is stored k×n (ldb
 * default n) or with transB n×k (ldb default k); C is m×n with row length ldc (default n). Epilogues:
 *   'forward' (default): C = f(P + bias), bias an optional 1×n row, f = activation (default linear)
 *   'grad':  C = P ⊙ f'(aux), aux an m×n Y (row length ldc) holding f's outputs; aux may alias C
 *   'sgd':   C = C − lr·(P + wd·C), C before this op on the right (decoupled weight decay: the SGD step
 *            fused into dW = Aᵀ·dZ); lr and wd are words HYPER_LR (0) and HYPER_WD (6) of `hyper`, the
 *            optimizers' hyper block, read at run time. wd = 0 gives C − lr·P.
 *   'add':   C = C + P (a weight gradient summed over the micro-batches of a batch)
 * C must not overlap A, B, bias or hyper.
 */
export interface GemmOp {
  op: 'gemm';
  a: WasmBuffer;
  b: WasmBuffer;
  c: WasmBuffer;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  lda?: number;
  ldb?: number;
  ldc?: number;
  epilogue?: 'forward' | 'grad' | 'sgd' | 'add';
  activation?: EngineActivation;
  bias?: WasmBuffer;
  aux?: WasmBuffer;
  hyper?: WasmBuffer;
}
/** y = f(x) elementwise over n elements (default x.count); y may alias x. */
export interface ActivationOp {
  op: 'activation';
  x: WasmBuffer;
  y: WasmBuffer;
  activation: EngineActivation;
  n?: number;
}
/** out = dy ⊙ f'(y) over n elements (default y.count), f' in terms of the output y; out may alias y or dy. */
export interface ActivationGradOp {
  op: 'activationGrad';
  y: WasmBuffer;
  dy: WasmBuffer;
  out: WasmBuffer;
  activation: EngineActivation;
  n?: number;
}
/**
 * out[j] = Σ_i dz[i, j] for an m×n dz (column sums in f64, rounded once); with accumulate out[j] += that
 * (the f64 sum starts from out[j], still one rounding). out (n) must not overlap dz.
 */
export interface BiasGradOp {
  op: 'biasGrad';
  dz: WasmBuffer;
  out: WasmBuffer;
  m: number;
  n: number;
  accumulate?: boolean;
}
/**
 * out[0] = scale · Σ (p − t)² over n elements (default p.count), summed in f64 and rounded once; with
 * accumulate, out[0] += that (the old out[0] added in f64, then one rounding), so a whole epoch's losses
 * can be added up in memory. Bitwise the same for any number of threads.
 */
export interface MseLossOp {
  op: 'mseLoss';
  p: WasmBuffer;
  t: WasmBuffer;
  out: WasmBuffer;
  scale: number;
  accumulate?: boolean;
  n?: number;
}
/** g = scale · (p − t) ⊙ f'(p) over n elements (default p.count): with scale 2/n and f the output
 * activation this is dZ of the last layer; g may alias p or t. */
export interface MseGradOp {
  op: 'mseGrad';
  p: WasmBuffer;
  t: WasmBuffer;
  g: WasmBuffer;
  scale: number;
  activation?: EngineActivation;
  n?: number;
}
/**
 * In-place update of p from g over n elements (default p.count), with the hyper-parameters read at run
 * time from `hyper` (HYPER_WORDS f32s, optimizer.wgsl's Hyper: lr, β1 or μ, β2, ε, c1 = 1 − β1^t,
 * c2 = 1 − β2^t, wd, unused). Each rule computes a step u, then p −= lr·u, in f32:
 *   sgd:      u = g
 *   momentum: s1 = μ·s1 + g; u = s1
 *   adam:     s1 = β1·s1 + (1 − β1)·g; s2 = β2·s2 + (1 − β2)·g²; u = (s1/c1) / (√(s2/c2) + ε)
 *   decay (weights, not biases): u += wd·p, p before this step (decoupled weight decay, AdamW's rule).
 * p, g, s1, s2 and hyper must not overlap.
 */
export interface OptimizerOp {
  op: 'sgd' | 'momentum' | 'adam';
  p: WasmBuffer;
  g: WasmBuffer;
  s1?: WasmBuffer;
  s2?: WasmBuffer;
  hyper: WasmBuffer;
  decay?: boolean;
  n?: number;
}
/**
 * out[i, :] = src[idx[offset + i], :] for i < rows, rows of `cols` elements; idx holds u32 row numbers,
 * offset is the u32 at offset's element 0 (read at run time; default 0). An index ≥ src.count / cols
 * stores a zero row and makes the run reject with InvalidArgumentError.
 */
export interface GatherOp {
  op: 'gather';
  src: WasmBuffer;
  idx: WasmBuffer;
  out: WasmBuffer;
  rows: number;
  cols: number;
  offset?: WasmBuffer;
}
/** dst = src over n elements (default src.count); they must not overlap. */
export interface CopyOp {
  op: 'copy';
  src: WasmBuffer;
  dst: WasmBuffer;
  n?: number;
}
/** dst = value over n elements (default dst.count). */
export interface FillOp {
  op: 'fill';
  dst: WasmBuffer;
  value: number;
  n?: number;
}

/**
 * y[r, :] = exp(x[r, :] − max) / Σ_j exp(x[r, j] − max) for each of m rows of n, max the row's maximum;
 * the sum in f64, each probability exp(x − max) / sum in f32 (exp as the activations', which returns 0
 * below e^-87, so entries far below the maximum are exactly 0). y may alias x.
 */
export interface SoftmaxOp {
  op: 'softmax';
  x: WasmBuffer;
  y: WasmBuffer;
  m: number;
  n: number;
}
/**
 * out[r, j] = y[r, j]·(dy[r, j] − Σ_k dy[r, k]·y[r, k]) for m rows of n (the dot in f64, rounded once):
 * the softmax's backward pass, y its output. out may alias y or dy.
 */
export interface SoftmaxGradOp {
  op: 'softmaxGrad';
  y: WasmBuffer;
  dy: WasmBuffer;
  out: WasmBuffer;
  m: number;
  n: number;
}
/**
 * Cross-entropy of a softmax, from m rows of n logits z and targets t. For each row, with M its maximum
 * and s = Σ_j exp(z_j − M) (f64):
 *   loss[0] = lossScale · Σ_rows Σ_{j: t_j ≠ 0} t_j·((M − z_j) + log s)   in f64, rounded once; finite for
 *             any finite z. With accumulate, loss[0] += that (the old value added in f64, one rounding).
 *   z is replaced by P = exp(z − M) / s, the same bits as the softmax op.
 *   correct: when given, the u32 correct[0] += rows whose argmax of z (taken before z becomes P) equals
 *             the argmax of t, the first index on ties (always accumulates: clear it with fill).
 *   dz:      when given, dz = (P − t)·gradScale in f32 (with gradScale = 1/rows of the batch, the mean
 *             cross-entropy's gradient at the logits).
 * The loss and count are summed from fixed runs of rows in order, so any number of threads gives the same
 * bits. loss, correct, dz, z and t must not overlap (dz may not alias z or t).
 */
export interface CrossEntropyOp {
  op: 'crossEntropy';
  z: WasmBuffer;
  t: WasmBuffer;
  m: number;
  n: number;
  loss: WasmBuffer;
  lossScale: number;
  accumulate?: boolean;
  correct?: WasmBuffer;
  dz?: WasmBuffer;
  gradScale?: number;
}

export type Op =
  | GemmOp
  | ActivationOp
  | ActivationGradOp
  | BiasGradOp
  | MseLossOp
  | MseGradOp
  | OptimizerOp
  | SoftmaxOp
  | SoftmaxGradOp
  | CrossEntropyOp;
export type AnyOp = Op | GatherOp | CopyOp | FillOp;
