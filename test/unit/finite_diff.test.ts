// Finite-difference check of the CPU backward pass. A 2-layer network is wired by hand from Backend ops
// (forward, then backward exactly as DESIGN.md writes it), and every parameter's analytic gradient is
// compared with a central difference of the loss. The loss for the finite differences is computed by an
// independent f64 forward pass written below in plain loops, so the difference quotient is not drowned in
// f32 rounding and the comparison can be tight.
import { mulberry32 } from '../../src/random';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackend, type Activation, type Backend, type Matrix } from '../../src/index';
import { allclose } from '../allclose';

const IN = 3;
const HIDDEN = 4;
const OUT = 2;
const BATCH = 5;

/** A deterministic PRNG (the library's mulberry32), so every run checks the same network. */
const rng = mulberry32;

const uniform = (next: () => number, n: number, lo: number, hi: number) =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * next());

interface Problem {
  x: Float32Array;
  y: Float32Array;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

// ---- The independent f64 reference: plain loops, no backend code. ----

function f64(kind: Activation, z: number): number {
  if (kind === 'relu') return Math.max(0, z);
  if (kind === 'sigmoid') return 1 / (1 + Math.exp(-z));
  return z;
}

/** Z = A·W + b in f64; A is rows×k, W is k×n. */
function dense64(a: Float64Array, w: Float64Array, b: Float64Array, rows: number, k: number, n: number): Float64Array {
  const z = new Float64Array(rows * n);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < n; j++) {
      let s = b[j];
      for (let p = 0; p < k; p++) s += a[i * k + p] * w[p * n + j];
      z[i * n + j] = s;
    }
  }
  return z;
}

/** The pre-activations of both layers and the mse loss, all in f64. */
function forward64(p: Record<keyof Problem, Float64Array>, f1: Activation, f2: Activation) {
  const z1 = dense64(p.x, p.w1, p.b1, BATCH, IN, HIDDEN);
  const z2 = dense64(
    z1.map((z) => f64(f1, z)),
    p.w2,
    p.b2,
    BATCH,
    HIDDEN,
    OUT,
  );
  let sum = 0;
  for (let i = 0; i < z2.length; i++) sum += (f64(f2, z2[i]) - p.y[i]) ** 2;
  return { z1, z2, loss: sum / z2.length };
}

const toF64 = (p: Problem) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Float64Array.from(v)])) as Record<
    keyof Problem,
    Float64Array
  >;

/** Central differences dL/dθ for every entry of p[name], in f64. */
function numericGrad(p: Problem, name: keyof Problem, f1: Activation, f2: Activation, h: number): Float64Array {
  const q = toF64(p);
  const out = new Float64Array(q[name].length);
  for (let i = 0; i < out.length; i++) {
    const keep = q[name][i];
    q[name][i] = keep + h;
    const up = forward64(q, f1, f2).loss;
    q[name][i] = keep - h;
    const down = forward64(q, f1, f2).loss;
    q[name][i] = keep;
    out[i] = (up - down) / (2 * h);
  }
  return out;
}

// ---- The problem: a seeded random network whose relu inputs stay clear of the kink. ----

// Perturbations move a pre-activation by at most h·max|input| < 1e-5, far inside this margin, so the
// finite difference never straddles relu's kink at 0 (where the derivative is undefined).
const KINK_MARGIN = 1e-3;

function makeProblem(f1: Activation, f2: Activation): Problem {
  for (let seed = 1; seed < 1000; seed++) {
    const next = rng(seed);
    const p: Problem = {
      x: uniform(next, BATCH * IN, -1, 1),
      y: uniform(next, BATCH * OUT, 0, 1),
      w1: uniform(next, IN * HIDDEN, -1, 1),
      b1: uniform(next, HIDDEN, -0.5, 0.5),
      w2: uniform(next, HIDDEN * OUT, -1, 1),
      b2: uniform(next, OUT, -0.5, 0.5),
    };
    const { z1, z2 } = forward64(toF64(p), f1, f2);
    const nearKink = (z: Float64Array, f: Activation) => f === 'relu' && z.some((v) => Math.abs(v) < KINK_MARGIN);
    if (!nearKink(z1, f1) && !nearKink(z2, f2)) return p;
  }
  throw new Error('no seed kept relu inputs away from 0');
}

// ---- The analytic gradients, from backend ops only. ----

async function backprop(cpu: Backend, p: Problem, f1: Activation, f2: Activation) {
  const X = cpu.matrix(BATCH, IN, p.x);
  const Y = cpu.matrix(BATCH, OUT, p.y);
  const W1 = cpu.matrix(IN, HIDDEN, p.w1);
  const b1 = cpu.matrix(1, HIDDEN, p.b1);
  const W2 = cpu.matrix(HIDDEN, OUT, p.w2);
  const b2 = cpu.matrix(1, OUT, p.b2);

  const A1 = cpu.matmul(X, W1, { bias: b1, activation: f1 });
  const A2 = cpu.matmul(A1, W2, { bias: b2, activation: f2 });
  const loss = cpu.mseLoss(A2, Y);

  const dA2 = cpu.mseGrad(A2, Y);
  const dZ2 = cpu.activationBackward(f2, A2, dA2);
  const dW2 = cpu.matmul(A1, dZ2, { transposeA: true });
  const db2 = cpu.biasGrad(dZ2);
  const dA1 = cpu.matmul(dZ2, W2, { transposeB: true });
  const dZ1 = cpu.activationBackward(f1, A1, dA1);
  const dW1 = cpu.matmul(X, dZ1, { transposeA: true });
  const db1 = cpu.biasGrad(dZ1);
  const dX = cpu.matmul(dZ1, W1, { transposeB: true });

  const read = (mat: Matrix) => mat.read();
  return {
    loss: (await read(loss))[0],
    a1: await read(A1),
    grads: { x: await read(dX), w1: await read(dW1), b1: await read(db1), w2: await read(dW2), b2: await read(db2) },
  };
}

/** Largest |a - n| / max(|a|, |n|, floor) over all entries. */
function worstRelError(analytic: ArrayLike<number>, numeric: ArrayLike<number>, floor: number): number {
  let worst = 0;
  for (let i = 0; i < analytic.length; i++) {
    const a = analytic[i];
    const n = numeric[i];
    worst = Math.max(worst, Math.abs(a - n) / Math.max(Math.abs(a), Math.abs(n), floor));
  }
  return worst;
}

// Why these bounds:
// - The finite difference is f64 with h = 1e-5: truncation error ~h²·|L'''| ≈ 1e-10 and rounding error
//   ~1e-16·|L|/h ≈ 1e-11, so it is accurate to ~1e-9 — effectively exact here.
// - The analytic gradient goes through ~8 backend ops, each rounding to f32 (unit roundoff 6e-8) with
//   sums of at most 5 terms (accumulated in f64), so its relative error is ≲ 1e-6. Where a gradient is
//   a near-cancelling sum its relative error is meaningless, so the denominator has a floor of 1e-3,
//   turning the bound into an absolute 1e-7 for tiny gradients (the gradients here are ~1e-3 to 1e-1).
// - So 1e-4 leaves ~100× headroom over f32 noise, while a real bug (a missing factor 2, a wrong
//   transpose, f' of z instead of y) is off by O(1).
const H = 1e-5;
const FLOOR = 1e-3;
const REL_TOL = 1e-4;

const CASES: [Activation, Activation][] = [
  ['relu', 'sigmoid'],
  ['sigmoid', 'linear'],
  ['relu', 'linear'],
  ['sigmoid', 'sigmoid'],
  ['linear', 'relu'],
];

describe('CPU backward pass vs f64 central differences', () => {
  let cpu: Backend;
  beforeEach(async () => {
    cpu = await createBackend('cpu');
  });
  afterEach(() => cpu.destroy());

  describe.each(CASES)('hidden %s, output %s', (f1, f2) => {
    const p = makeProblem(f1, f2);

    it('computes the same loss as the f64 forward pass', async () => {
      const { loss } = await backprop(cpu, p, f1, f2);
      // f32 storage of every intermediate: relative error ≲ 1e-6.
      expect(allclose([loss], [forward64(toF64(p), f1, f2).loss], { rtol: 1e-5, atol: 1e-7 })).toBeNull();
    });

    it.each(['w1', 'b1', 'w2', 'b2', 'x'] as const)('gradient of %s matches', async (name) => {
      const { grads } = await backprop(cpu, p, f1, f2);
      const numeric = numericGrad(p, name, f1, f2, H);
      expect(grads[name].length).toBe(numeric.length);
      // A check that passes because every gradient is 0 would prove nothing.
      expect(numeric.some((v) => Math.abs(v) > 1e-4)).toBe(true);
      expect(worstRelError(grads[name], numeric, FLOOR)).toBeLessThan(REL_TOL);
    });
  });

  it('exercises both relu branches (some hidden units on, some off)', async () => {
    const p = makeProblem('relu', 'sigmoid');
    const { a1 } = await backprop(cpu, p, 'relu', 'sigmoid');
    expect(a1.some((v) => v === 0)).toBe(true);
    expect(a1.some((v) => v > 0)).toBe(true);
  });

  it('would catch the gradient the derivation started from (pred - true, without 2/(batch·out))', async () => {
    // Guards the tolerance itself: dropping mseGrad's constant must fail the check above by far.
    const p = makeProblem('sigmoid', 'linear');
    const { grads } = await backprop(cpu, p, 'sigmoid', 'linear');
    const scaled = grads.w2.map((g) => (g * BATCH * OUT) / 2);
    expect(worstRelError(scaled, numericGrad(p, 'w2', 'sigmoid', 'linear', H), FLOOR)).toBeGreaterThan(0.5);
  });
});
