// The elementwise and reduction ops of a training step, each split among threads in fixed pieces:
// elementwise ops by CHUNK elements, column sums by BG_COLS columns, the loss by CHUNK-element partial
// sums that one thread then adds in order. No result depends on which thread computed which piece.
import {
  ACT_KIND,
  ACT_N,
  ACT_X,
  ACT_Y,
  AGRAD_DY,
  AGRAD_KIND,
  AGRAD_N,
  AGRAD_OUT,
  AGRAD_Y,
  BG_ACCUMULATE,
  BG_COLS,
  BG_DZ,
  BG_M,
  BG_N,
  BG_OUT,
  CHUNK,
  COPY_DST,
  COPY_N,
  COPY_SRC,
  CTRL_ERROR,
  ERR_GATHER_INDEX,
  FILL_DST,
  FILL_N,
  FILL_VALUE,
  GATHER_COLS,
  GATHER_IDX,
  GATHER_OFFSET,
  GATHER_OUT,
  GATHER_ROWS,
  GATHER_SRC,
  GATHER_SRC_ROWS,
  HYPER_BETA1,
  HYPER_BETA2,
  HYPER_C1,
  HYPER_C2,
  HYPER_EPSILON,
  HYPER_LR,
  HYPER_WD,
  MSE_EXTRA,
  MSE_N,
  MSE_OUT,
  MSE_P,
  MSE_SCALE,
  MSE_T,
  OPT_ADAM,
  OPT_MOMENTUM,
  OPTIM_DECAY,
  OPTIM_G,
  OPTIM_HYPER,
  OPTIM_KIND,
  OPTIM_N,
  OPTIM_P,
  OPTIM_S1,
  OPTIM_S2,
} from '../layout';
import { at, chunks, int, ptr, real } from './fields';
import { activate1, activate4, activateGrad1, activateGrad4 } from './math';
import { barrier, nextTask } from './sync';

/** y = f(x) over [s, e). */
function activationRange(x: usize, y: usize, s: i32, e: i32, kind: i32): void {
  let i = s;
  for (; i + 4 <= e; i += 4) v128.store(y + at(i), activate4(kind, v128.load(x + at(i))));
  for (; i < e; i++) store<f32>(y + at(i), activate1(kind, load<f32>(x + at(i))));
}

/** activation: y = f(x), n elements; y may be x. */
export function activation(op: usize, ctrl: usize): void {
  const n = int(op, ACT_N);
  for (let t = nextTask(ctrl); t < chunks(n); t = nextTask(ctrl)) {
    const s = t * CHUNK;
    activationRange(ptr(op, ACT_X), ptr(op, ACT_Y), s, min(s + CHUNK, n), int(op, ACT_KIND));
  }
}

/** out = dy ⊙ f'(y) over [s, e). */
function activationGradRange(y: usize, dy: usize, out: usize, s: i32, e: i32, kind: i32): void {
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const o = at(i);
    v128.store(out + o, f32x4.mul(v128.load(dy + o), activateGrad4(kind, v128.load(y + o))));
  }
  for (; i < e; i++) {
    const o = at(i);
    store<f32>(out + o, load<f32>(dy + o) * activateGrad1(kind, load<f32>(y + o)));
  }
}

/** activationGrad: out = dy ⊙ f'(y), n elements; out may be y or dy. */
export function activationGrad(op: usize, ctrl: usize): void {
  const n = int(op, AGRAD_N);
  for (let t = nextTask(ctrl); t < chunks(n); t = nextTask(ctrl)) {
    const s = t * CHUNK;
    const e = min(s + CHUNK, n);
    activationGradRange(ptr(op, AGRAD_Y), ptr(op, AGRAD_DY), ptr(op, AGRAD_OUT), s, e, int(op, AGRAD_KIND));
  }
}

/**
 * out[j] = Σ_i dz[i, j] for columns [j0, j0 + cols), summed in f64 down the rows and rounded once; with
 * `add` the sums start from out[j] (out[j] += Σ, still one rounding).
 */
function columnSums(dz: usize, out: usize, m: i32, n: i32, j0: i32, cols: i32, add: bool): void {
  const ld = (<usize>n) << 2;
  let p = dz + ((<usize>j0) << 2);
  const o = out + ((<usize>j0) << 2);
  if (cols === 8) {
    let s0 = f64x2.splat(0);
    let s1 = s0;
    let s2 = s0;
    let s3 = s0;
    if (add) {
      const lo = v128.load(o);
      const hi = v128.load(o, 16);
      s0 = f64x2.promote_low_f32x4(lo);
      s1 = f64x2.promote_low_f32x4(f32x4.shuffle(lo, lo, 2, 3, 2, 3));
      s2 = f64x2.promote_low_f32x4(hi);
      s3 = f64x2.promote_low_f32x4(f32x4.shuffle(hi, hi, 2, 3, 2, 3));
    }
    for (let i = 0; i < m; i++) {
      const lo = v128.load(p);
      const hi = v128.load(p, 16);
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(lo));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(f32x4.shuffle(lo, lo, 2, 3, 2, 3)));
      s2 = f64x2.add(s2, f64x2.promote_low_f32x4(hi));
      s3 = f64x2.add(s3, f64x2.promote_low_f32x4(f32x4.shuffle(hi, hi, 2, 3, 2, 3)));
      p += ld;
    }
    v128.store(o, f32x4.shuffle(f32x4.demote_f64x2_zero(s0), f32x4.demote_f64x2_zero(s1), 0, 1, 4, 5));
    v128.store(o, f32x4.shuffle(f32x4.demote_f64x2_zero(s2), f32x4.demote_f64x2_zero(s3), 0, 1, 4, 5), 16);
    return;
  }
  for (let j = 0; j < cols; j++) {
    let s: f64 = add ? <f64>load<f32>(o + at(j)) : 0;
    let q = p + at(j);
    for (let i = 0; i < m; i++) {
      s += <f64>load<f32>(q);
      q += ld;
    }
    store<f32>(o + at(j), <f32>s);
  }
}

/** biasGrad: out[j] (+)= Σ_i dz[i, j] for an m×n dz; out must not overlap dz. */
export function biasGrad(op: usize, ctrl: usize): void {
  const m = int(op, BG_M);
  const n = int(op, BG_N);
  const groups = (n + BG_COLS - 1) / BG_COLS;
  for (let t = nextTask(ctrl); t < groups; t = nextTask(ctrl)) {
    const j0 = t * BG_COLS;
    columnSums(ptr(op, BG_DZ), ptr(op, BG_OUT), m, n, j0, min(BG_COLS, n - j0), int(op, BG_ACCUMULATE) !== 0);
  }
}

/** Σ (p − t)² over [s, e) in f64: two f64x2 sums over the vector body, their lanes, then the tail. */
function squaredErrors(p: usize, t: usize, s: i32, e: i32): f64 {
  let lo = f64x2.splat(0);
  let hi = lo;
  let i = s;
  for (; i + 4 <= e; i += 4) {
    const a = v128.load(p + at(i));
    const b = v128.load(t + at(i));
    const d0 = f64x2.sub(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b));
    const d1 = f64x2.sub(
      f64x2.promote_low_f32x4(f32x4.shuffle(a, a, 2, 3, 2, 3)),
      f64x2.promote_low_f32x4(f32x4.shuffle(b, b, 2, 3, 2, 3)),
    );
    lo = f64x2.add(lo, f64x2.mul(d0, d0));
    hi = f64x2.add(hi, f64x2.mul(d1, d1));
  }
  let sum = f64x2.extract_lane(lo, 0) + f64x2.extract_lane(lo, 1) + f64x2.extract_lane(hi, 0);
  sum += f64x2.extract_lane(hi, 1);
  for (; i < e; i++) {
    const d = <f64>load<f32>(p + at(i)) - <f64>load<f32>(t + at(i));
    sum += d * d;
  }
  return sum;
}

/**
 * mseLoss: out[0] = scale · Σ (p − t)² (accumulate: out[0] += that), n elements. Each CHUNK has its f64
 * partial sum in `shared`; after a barrier thread 0 adds them in order (and to out[0] when accumulating)
 * and rounds to f32 once.
 */
export function mseLoss(op: usize, ctrl: usize, tid: i32, threads: i32, shared: usize): void {
  const n = int(op, MSE_N);
  const p = ptr(op, MSE_P);
  const t = ptr(op, MSE_T);
  const parts = chunks(n);
  for (let c = nextTask(ctrl); c < parts; c = nextTask(ctrl)) {
    const s = c * CHUNK;
    store<f64>(shared + ((<usize>c) << 3), squaredErrors(p, t, s, min(s + CHUNK, n)));
  }
  barrier(ctrl, threads);
  if (tid !== 0) return;
  let sum: f64 = 0;
  for (let c = 0; c < parts; c++) sum += load<f64>(shared + ((<usize>c) << 3));
  const out = ptr(op, MSE_OUT);
  const value = sum * <f64>real(op, MSE_SCALE);
  store<f32>(out, <f32>(int(op, MSE_EXTRA) ? <f64>load<f32>(out) + value : value));
}

/** mseGrad: g = scale · (p − t) ⊙ f'(p), n elements; g may be p or t. */
export function mseGrad(op: usize, ctrl: usize): void {
  const n = int(op, MSE_N);
  const p = ptr(op, MSE_P);
  const tg = ptr(op, MSE_T);
  const g = ptr(op, MSE_OUT);
  const kind = int(op, MSE_EXTRA);
  for (let c = nextTask(ctrl); c < chunks(n); c = nextTask(ctrl)) {
    let i = c * CHUNK;
    const e = min(i + CHUNK, n);
    for (; i + 4 <= e; i += 4) {
      const o = at(i);
      const pv = v128.load(p + o);
      const d = f32x4.mul(v128.load32_splat(op, MSE_SCALE << 2), f32x4.sub(pv, v128.load(tg + o)));
      v128.store(g + o, f32x4.mul(d, activateGrad4(kind, pv)));
    }
    for (; i < e; i++) {
      const o = at(i);
      const pv = load<f32>(p + o);
      store<f32>(g + o, load<f32>(op, MSE_SCALE << 2) * (pv - load<f32>(tg + o)) * activateGrad1(kind, pv));
    }
  }
}

/**
 * The optimizer's rule on the four values at byte offset o of p, g, s1, s2 (s1/s2 unused by the rules
 * that need none): u = g, the velocity, or Adam's m̂/(√v̂ + ε); with decay u += wd·p; then p −= lr·u.
 */
function update4(kind: i32, decay: bool, p: usize, g: usize, s1: usize, s2: usize, o: usize, h: usize): void {
  const gv = v128.load(g + o);
  const pv = v128.load(p + o);
  let u = gv;
  if (kind === OPT_MOMENTUM) {
    u = f32x4.add(f32x4.mul(f32x4.splat(load<f32>(h + (HYPER_BETA1 << 2))), v128.load(s1 + o)), gv);
    v128.store(s1 + o, u);
  } else if (kind === OPT_ADAM) {
    const b1 = load<f32>(h + (HYPER_BETA1 << 2));
    const b2 = load<f32>(h + (HYPER_BETA2 << 2));
    const mv = f32x4.add(f32x4.mul(f32x4.splat(b1), v128.load(s1 + o)), f32x4.mul(f32x4.splat(1 - b1), gv));
    const vv = f32x4.add(
      f32x4.mul(f32x4.splat(b2), v128.load(s2 + o)),
      f32x4.mul(f32x4.splat(1 - b2), f32x4.mul(gv, gv)),
    );
    v128.store(s1 + o, mv);
    v128.store(s2 + o, vv);
    const mHat = f32x4.div(mv, f32x4.splat(load<f32>(h + (HYPER_C1 << 2))));
    const vHat = f32x4.div(vv, f32x4.splat(load<f32>(h + (HYPER_C2 << 2))));
    u = f32x4.div(mHat, f32x4.add(f32x4.sqrt(vHat), f32x4.splat(load<f32>(h + (HYPER_EPSILON << 2)))));
  }
  if (decay) u = f32x4.add(u, f32x4.mul(f32x4.splat(load<f32>(h + (HYPER_WD << 2))), pv));
  v128.store(p + o, f32x4.sub(pv, f32x4.mul(f32x4.splat(load<f32>(h + (HYPER_LR << 2))), u)));
}

/**
 * optimizer: updates p (n elements) in place from g with rule OPT_* and the hyper block at HYPER. A ragged
 * tail of under four values goes through update4 too, copied into the thread's scratch `mine` (four
 * 16-byte slots for p, g, s1, s2) and back, so every value gets the same arithmetic.
 */
export function optimizer(op: usize, ctrl: usize, mine: usize): void {
  const kind = int(op, OPTIM_KIND);
  const decay = int(op, OPTIM_DECAY) !== 0;
  const p = ptr(op, OPTIM_P);
  const g = ptr(op, OPTIM_G);
  const s1 = ptr(op, OPTIM_S1);
  const s2 = ptr(op, OPTIM_S2);
  const n = int(op, OPTIM_N);
  const h = ptr(op, OPTIM_HYPER);
  for (let c = nextTask(ctrl); c < chunks(n); c = nextTask(ctrl)) {
    let i = c * CHUNK;
    const e = min(i + CHUNK, n);
    for (; i + 4 <= e; i += 4) update4(kind, decay, p, g, s1, s2, at(i), h);
    if (i === e) continue;
    const bytes = at(e - i);
    memory.fill(mine, 0, 64);
    memory.copy(mine, p + at(i), bytes);
    memory.copy(mine + 16, g + at(i), bytes);
    if (s1) memory.copy(mine + 32, s1 + at(i), bytes);
    if (s2) memory.copy(mine + 48, s2 + at(i), bytes);
    update4(kind, decay, mine, mine + 16, mine + 32, mine + 48, 0, h);
    memory.copy(p + at(i), mine, bytes);
    if (s1) memory.copy(s1 + at(i), mine + 32, bytes);
    if (s2) memory.copy(s2 + at(i), mine + 48, bytes);
  }
}

/** gather: out[i, :] = src[idx[offset + i], :] for i < rows; rows are `cols` elements. */
export function gather(op: usize, ctrl: usize): void {
  const src = ptr(op, GATHER_SRC);
  const idx = ptr(op, GATHER_IDX);
  const out = ptr(op, GATHER_OUT);
  const rows = int(op, GATHER_ROWS);
  const cols = int(op, GATHER_COLS);
  const bytes = at(cols);
  const srcRows = <u32>int(op, GATHER_SRC_ROWS);
  const offsetAt = ptr(op, GATHER_OFFSET);
  const first = idx + (offsetAt ? at(load<i32>(offsetAt)) : 0);
  const per = max(1, CHUNK / cols);
  const tasks = (rows + per - 1) / per;
  for (let t = nextTask(ctrl); t < tasks; t = nextTask(ctrl)) {
    const end = min(rows, (t + 1) * per);
    for (let i = t * per; i < end; i++) {
      const r = load<u32>(first + at(i));
      const dst = out + <usize>i * bytes;
      if (r < srcRows) {
        memory.copy(dst, src + <usize>r * bytes, bytes);
      } else {
        memory.fill(dst, 0, bytes);
        atomic.store<i32>(ctrl + (CTRL_ERROR << 2), ERR_GATHER_INDEX);
      }
    }
  }
}

/** copy: dst = src, n elements (the ranges must not overlap). */
export function copy(op: usize, ctrl: usize): void {
  const n = int(op, COPY_N);
  for (let c = nextTask(ctrl); c < chunks(n); c = nextTask(ctrl)) {
    const s = c * CHUNK;
    memory.copy(ptr(op, COPY_DST) + at(s), ptr(op, COPY_SRC) + at(s), at(min(s + CHUNK, n) - s));
  }
}

/** fill: dst = value, n elements. */
export function fill(op: usize, ctrl: usize): void {
  const n = int(op, FILL_N);
  const v = f32x4.splat(load<f32>(op + (FILL_VALUE << 2)));
  const dst = ptr(op, FILL_DST);
  for (let c = nextTask(ctrl); c < chunks(n); c = nextTask(ctrl)) {
    let i = c * CHUNK;
    const e = min(i + CHUNK, n);
    for (; i + 4 <= e; i += 4) v128.store(dst + at(i), v);
    for (; i < e; i++) store<f32>(dst + at(i), f32x4.extract_lane(v, 0));
  }
}
