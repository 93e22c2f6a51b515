// An independent check of the reference trainer's optimizers: momentum and Adam steps on a network small
// enough to write out (one linear unit, two inputs, MSE), recomputed here from the textbook formulas in
// f64 — the gradient by hand, the optimizer state by hand — without any of the library's helpers.
import { describe, expect, it } from 'vitest';
import { createBackend, Network, type OptimizerSpec } from '../../src/index';

// Two rows of two inputs, one target each.
const X = [
  [1, 2],
  [3, -1],
];
const Y = [0.5, -2];
const W0 = [0.25, -0.5];
const B0 = 0.1;

/** The MSE gradient of y = x·w + b over the two rows: dA = 2 (ŷ − y) / 2, dW = Xᵀ dA, db = Σ dA. */
function gradient(w: number[], b: number) {
  const pred = X.map((row) => row[0] * w[0] + row[1] * w[1] + b);
  const dA = pred.map((p, i) => (2 * (p - Y[i])) / X.length);
  const loss = pred.reduce((s, p, i) => s + (p - Y[i]) ** 2, 0) / X.length;
  return { loss, dW: [0, 1].map((j) => X.reduce((s, row, i) => s + row[j] * dA[i], 0)), db: dA[0] + dA[1] };
}

/** Runs `steps` trainSteps on the library's CPU backend; returns the loss and parameters after each. */
async function library(optimizer: OptimizerSpec, steps: number) {
  const net = new Network(await createBackend('cpu'), {
    inputSize: 2,
    layers: [{ units: 1, activation: 'linear' }],
    optimizer,
  });
  net.setWeights([{ weights: Float32Array.from(W0), bias: Float32Array.of(B0) }]);
  const x = Float32Array.from(X.flat());
  const y = Float32Array.from(Y);
  const out: { loss: number; w: number[]; b: number }[] = [];
  for (let t = 0; t < steps; t++) {
    const loss = await net.trainStep(x, y);
    const [layer] = await net.getWeights();
    out.push({ loss, w: [...layer.weights], b: layer.bias[0] });
  }
  return out;
}

/** Each step's loss and parameters, from `update(param index (2: the bias), gradient, step t from 1, value)`. */
function byHand(steps: number, update: (k: number, g: number, t: number, p: number) => number) {
  const params = [...W0, B0];
  const out: { loss: number; w: number[]; b: number }[] = [];
  for (let t = 1; t <= steps; t++) {
    const { loss, dW, db } = gradient(params.slice(0, 2), params[2]);
    const grads = [...dW, db];
    for (let k = 0; k < 3; k++) params[k] -= update(k, grads[k], t, params[k]);
    out.push({ loss, w: params.slice(0, 2), b: params[2] });
  }
  return out;
}

function expectClose(actual: { loss: number; w: number[]; b: number }[], expected: typeof actual) {
  // The library stores f32; these are f64 references over a few steps, so agreement is to ~1e-6.
  const close = (a: number, e: number, what: string) =>
    expect(Math.abs(a - e), `${what}: ${a} vs ${e}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(e));
  actual.forEach((step, t) => {
    close(step.loss, expected[t].loss, `loss before step ${t + 1}`);
    step.w.forEach((w, j) => {
      close(w, expected[t].w[j], `w${j} after step ${t + 1}`);
    });
    close(step.b, expected[t].b, `b after step ${t + 1}`);
  });
}

describe('the reference trainer against the textbook formulas', () => {
  it('momentum: v = μ v + g, p −= lr v', async () => {
    const lr = 0.1;
    const mu = 0.9;
    const v = [0, 0, 0];
    const expected = byHand(4, (k, g) => {
      v[k] = mu * v[k] + g;
      return lr * v[k];
    });
    expectClose(await library({ type: 'momentum', learningRate: lr, momentum: mu }, 4), expected);
  });

  it('Adam: bias-corrected moments, p −= lr m̂ / (√v̂ + ε)', async () => {
    const [lr, b1, b2, eps] = [0.05, 0.8, 0.95, 1e-3];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    const expected = byHand(4, (k, g, t) => {
      m[k] = b1 * m[k] + (1 - b1) * g;
      v[k] = b2 * v[k] + (1 - b2) * g * g;
      const mHat = m[k] / (1 - b1 ** t);
      const vHat = v[k] / (1 - b2 ** t);
      return (lr * mHat) / (Math.sqrt(vHat) + eps);
    });
    const actual = await library({ type: 'adam', learningRate: lr, beta1: b1, beta2: b2, epsilon: eps }, 4);
    expectClose(actual, expected);
    // The first Adam step moves each parameter by about lr · sign(g) whatever the gradient's size: that is
    // what the bias correction is for, and a missing one would move it by a fraction (1 − β1) / √(1 − β2) of it.
    const g = gradient(W0, B0);
    expect(Math.abs(actual[0].w[0] - W0[0])).toBeCloseTo(lr * (Math.abs(g.dW[0]) / (Math.abs(g.dW[0]) + eps)), 6);
  });

  it('AdamW: weight decay decoupled from the moments, on the weights only', async () => {
    const [lr, b1, b2, eps, wd] = [0.05, 0.9, 0.999, 1e-8, 0.3];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    const expected = byHand(4, (k, g, t, p) => {
      m[k] = b1 * m[k] + (1 - b1) * g;
      v[k] = b2 * v[k] + (1 - b2) * g * g;
      const step = m[k] / (1 - b1 ** t) / (Math.sqrt(v[k] / (1 - b2 ** t)) + eps);
      return lr * (step + (k < 2 ? wd * p : 0));
    });
    const actual = await library({ type: 'adam', learningRate: lr, weightDecay: wd }, 4);
    expectClose(actual, expected);
  });

  it('SGD and momentum with weight decay: p −= lr (u + wd p), u the usual step', async () => {
    const [lr, wd, mu] = [0.05, 0.2, 0.5];
    expectClose(
      await library({ type: 'sgd', learningRate: lr, weightDecay: wd }, 3),
      byHand(3, (k, g, _, p) => lr * (g + (k < 2 ? wd * p : 0))),
    );
    const vel = [0, 0, 0];
    const expected = byHand(3, (k, g, _, p) => {
      vel[k] = mu * vel[k] + g;
      return lr * (vel[k] + (k < 2 ? wd * p : 0));
    });
    expectClose(await library({ type: 'momentum', learningRate: lr, momentum: mu, weightDecay: wd }, 3), expected);
  });

  it('SGD: p −= lr g', async () => {
    const lr = 0.05;
    expectClose(
      await library({ type: 'sgd', learningRate: lr }, 3),
      byHand(3, (_, g) => lr * g),
    );
  });
});
