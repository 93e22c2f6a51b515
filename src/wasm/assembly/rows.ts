// The row-wise ops: softmax, its backward pass, and the cross-entropy loss fused with the softmax and its
// gradient (softmax.wgsl's twins). A task is a fixed run of max(1, ⌊ROW_CHUNK / n⌋) whole rows, so every
// row is computed by one thread in one fixed order, and crossEntropy's loss and count are summed from one
// partial per task, in task order, by thread 0: no result depends on the number of threads.
//
// A row's softmax is exp(z − m) / s with m its maximum and s = Σ exp(z − m) summed in f64; its
// log-probabilities are (z − m) − log s. z − m is exact for the entries near m, where going through
// m + log s first would round at the scale of m (for logits like ±80 that is 8e-6, not 0).
import {
  CE_ACCUMULATE,
  CE_CORRECT,
  CE_DZ,
  CE_GRAD_SCALE,
  CE_LOSS,
  CE_LOSS_SCALE,
  CE_M,
  CE_N,
  CE_T,
  CE_Z,
  ROW_CHUNK,
  SM_M,
  SM_N,
  SM_X,
  SM_Y,
  SMG_DY,
  SMG_M,
  SMG_N,
  SMG_OUT,
  SMG_Y,
} from '../layout';
import { at, int, ptr, real } from './fields';
import { exp1, exp4 } from './math';
import { barrier, nextTask } from './sync';

/** Rows per task for rows of n. */
function rowsPerTask(n: i32): i32 {
  return max(1, ROW_CHUNK / n);
}

/** max_j x[j] over a row of n; NaN if any entry is NaN (f32.max keeps it), like Math.max. */
function rowMax(x: usize, n: i32): f32 {
  let v = f32x4.splat(load<f32>(x));
  let j = 0;
  for (; j + 4 <= n; j += 4) v = f32x4.max(v, v128.load(x + at(j)));
  let m = max(
    max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
    max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)),
  );
  for (; j < n; j++) m = max(m, load<f32>(x + at(j)));
  return m;
}

/** Σ_j exp(x[j] − m) over a row of n in f64: two f64x2 sums over the vector body, their lanes, the tail. */
function rowExpSum(x: usize, n: i32, m: f32): f64 {
  const mv = f32x4.splat(m);
  let lo = f64x2.splat(0);
  let hi = lo;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const e = exp4(f32x4.sub(v128.load(x + at(j)), mv));
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(e));
    hi = f64x2.add(hi, f64x2.promote_low_f32x4(f32x4.shuffle(e, e, 2, 3, 2, 3)));
  }
  let s = f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1) + f64x2.extract_lane(hi, 0);
  s += f64x2.extract_lane(hi, 1);
  for (; j < n; j++) s += <f64>exp1(load<f32>(x + at(j)) - m);
  return s;
}

/** y[j] = exp(x[j] − m) / s over a row of n (f32, the same exp as rowExpSum); y may be x. */
function rowProbabilities(x: usize, y: usize, n: i32, m: f32, s: f32): void {
  const mv = f32x4.splat(m);
  const sv = f32x4.splat(s);
  let j = 0;
  for (; j + 4 <= n; j += 4) v128.store(y + at(j), f32x4.div(exp4(f32x4.sub(v128.load(x + at(j)), mv)), sv));
  for (; j < n; j++) store<f32>(y + at(j), exp1(load<f32>(x + at(j)) - m) / s);
}

/** The first index of a row's largest value (a NaN entry is never larger; a NaN first entry stays best). */
function argmax(x: usize, n: i32): i32 {
  let best = 0;
  let top = load<f32>(x);
  for (let j = 1; j < n; j++) {
    const v = load<f32>(x + at(j));
    if (v > top) {
      best = j;
      top = v;
    }
  }
  return best;
}

/** softmax: y[r, :] = exp(x[r, :] − max) / Σ exp(x[r, :] − max) over m rows of n; y may be x. */
export function softmax(op: usize, ctrl: usize): void {
  const m = int(op, SM_M);
  const n = int(op, SM_N);
  const per = rowsPerTask(n);
  const tasks = (m + per - 1) / per;
  for (let t = nextTask(ctrl); t < tasks; t = nextTask(ctrl)) {
    const end = min(m, (t + 1) * per);
    for (let r = t * per; r < end; r++) {
      const x = ptr(op, SM_X) + <usize>r * at(n);
      const mx = rowMax(x, n);
      rowProbabilities(x, ptr(op, SM_Y) + <usize>r * at(n), n, mx, <f32>rowExpSum(x, n, mx));
    }
  }
}

/** out = y ⊙ (dy − Σ dy·y) over a row of n, the dot in f64 (f32 products are exact there), rounded once. */
function softmaxGradRow(y: usize, dy: usize, out: usize, n: i32): void {
  let lo = f64x2.splat(0);
  let hi = lo;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const a = v128.load(y + at(j));
    const b = v128.load(dy + at(j));
    lo = f64x2.add(lo, f64x2.mul(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b)));
    const a1 = f64x2.promote_low_f32x4(f32x4.shuffle(a, a, 2, 3, 2, 3));
    hi = f64x2.add(hi, f64x2.mul(a1, f64x2.promote_low_f32x4(f32x4.shuffle(b, b, 2, 3, 2, 3))));
  }
  let dot = f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1) + f64x2.extract_lane(hi, 0);
  dot += f64x2.extract_lane(hi, 1);
  for (; j < n; j++) dot += <f64>load<f32>(y + at(j)) * <f64>load<f32>(dy + at(j));
  const d = <f32>dot;
  const dv = f32x4.splat(d);
  j = 0;
  for (; j + 4 <= n; j += 4) {
    v128.store(out + at(j), f32x4.mul(v128.load(y + at(j)), f32x4.sub(v128.load(dy + at(j)), dv)));
  }
  for (; j < n; j++) store<f32>(out + at(j), load<f32>(y + at(j)) * (load<f32>(dy + at(j)) - d));
}

/** softmaxGrad: out[r, j] = y[r, j]·(dy[r, j] − Σ_k dy[r, k]·y[r, k]) over m rows of n; out may be y or dy. */
export function softmaxGrad(op: usize, ctrl: usize): void {
  const m = int(op, SMG_M);
  const n = int(op, SMG_N);
  const per = rowsPerTask(n);
  const tasks = (m + per - 1) / per;
  for (let t = nextTask(ctrl); t < tasks; t = nextTask(ctrl)) {
    const end = min(m, (t + 1) * per);
    for (let r = t * per; r < end; r++) {
      const o = <usize>r * at(n);
      softmaxGradRow(ptr(op, SMG_Y) + o, ptr(op, SMG_DY) + o, ptr(op, SMG_OUT) + o, n);
    }
  }
}

/**
 * One row of crossEntropy: returns Σ_j t_j·((m − z_j) + log s) in f64 (terms with t_j = 0 skipped, as the
 * CPU reference), then replaces z by P and writes dz = (P − t)·scale when dz is not 0.
 */
function crossEntropyRow(z: usize, t: usize, dz: usize, n: i32, scale: f32): f64 {
  const m = rowMax(z, n);
  const s = rowExpSum(z, n, m);
  const logS = Math.log(s);
  let loss: f64 = 0;
  for (let j = 0; j < n; j++) {
    const tj = load<f32>(t + at(j));
    if (tj !== 0) loss += <f64>tj * (<f64>m - <f64>load<f32>(z + at(j)) + logS);
  }
  rowProbabilities(z, z, n, m, <f32>s);
  if (!dz) return loss;
  const sv = f32x4.splat(scale);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    v128.store(dz + at(j), f32x4.mul(f32x4.sub(v128.load(z + at(j)), v128.load(t + at(j))), sv));
  }
  for (; j < n; j++) store<f32>(dz + at(j), (load<f32>(z + at(j)) - load<f32>(t + at(j))) * scale);
  return loss;
}

/**
 * crossEntropy over m rows of n logits z (replaced by their softmax P) and targets t: each task stores its
 * rows' summed loss (f64) and the count of rows whose argmax of z is the argmax of t (i32) in a 16-byte
 * slot of `shared`; after a barrier thread 0 adds the slots in order, sets (or adds to) loss[0] =
 * lossScale·Σ rounded once, and adds the count to the u32 correct[0]. dz = (P − t)·gradScale when asked.
 */
export function crossEntropy(op: usize, ctrl: usize, tid: i32, threads: i32, shared: usize): void {
  const m = int(op, CE_M);
  const n = int(op, CE_N);
  const per = rowsPerTask(n);
  const tasks = (m + per - 1) / per;
  for (let c = nextTask(ctrl); c < tasks; c = nextTask(ctrl)) {
    const end = min(m, (c + 1) * per);
    let loss: f64 = 0;
    let right = 0;
    for (let r = c * per; r < end; r++) {
      const o = <usize>r * at(n);
      const z = ptr(op, CE_Z) + o;
      const t = ptr(op, CE_T) + o;
      // The argmax before z is replaced by P.
      if (argmax(z, n) === argmax(t, n)) right++;
      const dz = ptr(op, CE_DZ);
      loss += crossEntropyRow(z, t, dz ? dz + o : 0, n, real(op, CE_GRAD_SCALE));
    }
    const slot = shared + ((<usize>c) << 4);
    store<f64>(slot, loss);
    store<i32>(slot, right, 8);
  }
  barrier(ctrl, threads);
  if (tid !== 0) return;
  let sum: f64 = 0;
  let right = 0;
  for (let c = 0; c < tasks; c++) {
    sum += load<f64>(shared + ((<usize>c) << 4));
    right += load<i32>(shared + ((<usize>c) << 4), 8);
  }
  const lossAt = ptr(op, CE_LOSS);
  const value = sum * <f64>real(op, CE_LOSS_SCALE);
  store<f32>(lossAt, <f32>(int(op, CE_ACCUMULATE) ? <f64>load<f32>(lossAt) + value : value));
  const correct = ptr(op, CE_CORRECT);
  if (correct) store<u32>(correct, load<u32>(correct) + <u32>right);
}
