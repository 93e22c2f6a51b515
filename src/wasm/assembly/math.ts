// f32x4 arithmetic the kernels share: the multiply-add (fused in the relaxed-SIMD build), exp, and the
// activation functions with their derivatives written in terms of the output y = f(z) (DESIGN.md).
// Scalar callers go through the same vector code on one lane, so a value never depends on whether it
// fell in a vector body or a ragged tail.
import { ACT_RELU, ACT_SIGMOID, ACT_TANH } from '../layout';

/** a·b + c: one fused instruction where relaxed SIMD is compiled in, mul then add otherwise. */
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

// exp(x) = 2^n · e^r with n = round(x / ln 2) and r = x − n·ln 2 split in two parts (Cody–Waite) so r is
// exact to f32 precision; e^r on |r| ≤ ln2/2 by its Taylor series to r^7 (remainder below 2^-27).
// The input is clamped so 2^n stays a normal f32: exp never returns inf (above 88 it returns e^88), and
// below −87 it returns 0 (the true value is under 1.7e-38, a denormal or zero in f32), which changes no
// sigmoid or tanh output and makes a softmax entry far below its row's maximum exactly 0. NaN stays NaN
// (min/max keep it, and the x < −87 test is false for it).
const EXP_HI: f32 = 88.0;
const EXP_LO: f32 = -87.0;
const LOG2E = <f32>Math.LOG2E;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.1219444e-4;

export function exp4(x: v128): v128 {
  const tiny = f32x4.lt(x, f32x4.splat(EXP_LO));
  x = f32x4.min(f32x4.max(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(<f32>(1.0 / 5040.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 720.0)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 120.0)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 24.0)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>(1.0 / 6.0)));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(<f32>1.0));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(p, scale), tiny);
}

/** exp4 on one value. */
export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

// tanh(z) = sign(z) · (1 − 2 / (e^{2|z|} + 1)); below |z| = 1/4 that form loses digits to cancellation,
// so there tanh is its odd Taylor series to z^9 (remainder below 2^-26 relative).
function tanh4(z: v128): v128 {
  const a = f32x4.abs(z);
  const big = f32x4.sub(
    f32x4.splat(1.0),
    f32x4.div(f32x4.splat(2.0), f32x4.add(exp4(f32x4.add(a, a)), f32x4.splat(1.0))),
  );
  const z2 = f32x4.mul(z, z);
  let p = f32x4.splat(<f32>(62.0 / 2835.0));
  p = f32x4.sub(f32x4.mul(p, z2), f32x4.splat(<f32>(17.0 / 315.0)));
  p = f32x4.add(f32x4.mul(p, z2), f32x4.splat(<f32>(2.0 / 15.0)));
  p = f32x4.sub(f32x4.mul(p, z2), f32x4.splat(<f32>(1.0 / 3.0)));
  const small = f32x4.add(z, f32x4.mul(f32x4.mul(p, z2), z));
  // copy z's sign onto `big` (a NaN z gives a NaN either way)
  const signed = v128.or(big, v128.and(z, f32x4.splat(-0.0)));
  return v128.bitselect(small, signed, f32x4.lt(a, f32x4.splat(0.25)));
}

/** f(z) for activation `kind` (ACT_*), four lanes. */
export function activate4(kind: i32, z: v128): v128 {
  if (kind === ACT_RELU) return f32x4.pmax(f32x4.splat(0), z); // z > 0 ? z : 0, as the CPU reference
  if (kind === ACT_SIGMOID) return f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), exp4(f32x4.neg(z))));
  if (kind === ACT_TANH) return tanh4(z);
  return z;
}

/** f'(z) written in terms of y = f(z), four lanes: relu y>0?1:0, sigmoid y(1−y), tanh 1−y², linear 1. */
export function activateGrad4(kind: i32, y: v128): v128 {
  if (kind === ACT_RELU) return v128.and(f32x4.gt(y, f32x4.splat(0)), f32x4.splat(1.0));
  if (kind === ACT_SIGMOID) return f32x4.mul(y, f32x4.sub(f32x4.splat(1.0), y));
  if (kind === ACT_TANH) return f32x4.sub(f32x4.splat(1.0), f32x4.mul(y, y));
  return f32x4.splat(1.0);
}

/** activate4 on one value. */
export function activate1(kind: i32, z: f32): f32 {
  return f32x4.extract_lane(activate4(kind, f32x4.splat(z)), 0);
}

/** activateGrad4 on one value. */
export function activateGrad1(kind: i32, y: f32): f32 {
  return f32x4.extract_lane(activateGrad4(kind, f32x4.splat(y)), 0);
}
