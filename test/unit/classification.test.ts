// Classification on the CPU reference: tanh, softmax and cross-entropy checked against f64 central
// differences — each op alone, and a whole tanh → relu → softmax network wired from Backend ops — and
// the CPU trainer's step against that network's gradient. Rows with logits of ±80 (where a naive
// softmax overflows) are part of every check.
import { describe, expect, it } from 'vitest';
import { createBackend, InvalidArgumentError, Network } from '../../src/index';
import { mulberry32 } from '../../src/random';

const uniform = (seed: number, n: number, lo: number, hi: number) => {
  const next = mulberry32(seed);
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * next());
};

// ---- f64 references, written here without the library ----

function softmax64(z: Float64Array, cols: number): Float64Array {
  const out = new Float64Array(z.length);
  for (let r = 0; r < z.length / cols; r++) {
    const row = z.subarray(r * cols, (r + 1) * cols);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, j) => {
      out[r * cols + j] = v / s;
    });
  }
  return out;
}

/** Mean over rows of −Σ y log softmax(z), by log-sum-exp. */
function crossEntropy64(z: Float64Array, y: Float64Array, cols: number): number {
  let total = 0;
  const rows = z.length / cols;
  for (let r = 0; r < rows; r++) {
    const row = z.subarray(r * cols, (r + 1) * cols);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    for (let j = 0; j < cols; j++) total += y[r * cols + j] * (lse - row[j]);
  }
  return total / rows;
}

/** Central differences of f at x, in f64. */
function numericGrad(x: Float64Array, f: (x: Float64Array) => number, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h;
    const up = f(x);
    x[i] = keep - h;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Largest |a − n| / max(|a|, |n|, floor). */
function worst(a: ArrayLike<number>, n: ArrayLike<number>, floor = 1e-3): number {
  let w = 0;
  for (let i = 0; i < a.length; i++)
    w = Math.max(w, Math.abs(a[i] - n[i]) / Math.max(Math.abs(a[i]), Math.abs(n[i]), floor));
  return w;
}

/** One-hot rows for `rows` rows of `cols` classes. */
function oneHot(rows: number, cols: number, seed: number): Float64Array {
  const next = mulberry32(seed);
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) y[r * cols + Math.floor(next() * cols)] = 1;
  return y;
}

const ROWS = 4;
const COLS = 5;
/** Logits of moderate size, and a row at ±80 where exp(80) ≈ 5.5e34 and exp(160) overflows f32. */
function logits(): Float64Array {
  const z = uniform(3, ROWS * COLS, -3, 3);
  z.set([80, -80, 79.5, 0, -80], 2 * COLS);
  return z;
}

// Same budget as test/unit/finite_diff.test.ts: f64 differences are exact to ~1e-9; the library's f32
// values carry ~1e-6 relative error; a real bug is off by O(1).
const REL_TOL = 1e-4;

describe('the new CPU ops against f64 finite differences', () => {
  it('softmax: rows sum to 1, finite at ±80, and activationBackward is its Jacobian product', async () => {
    const cpu = await createBackend('cpu');
    const z = logits();
    const p = await cpu.activation('softmax', cpu.matrix(ROWS, COLS, Float32Array.from(z))).read();
    expect(worst(p, softmax64(z, COLS), 1e-30)).toBeLessThan(1e-5);
    expect(p.every(Number.isFinite)).toBe(true);
    // L = Σ w ⊙ softmax(z): dL/dz = J_softmaxᵀ w.
    const w = uniform(4, ROWS * COLS, -1, 1);
    const back = await cpu
      .activationBackward('softmax', cpu.matrix(ROWS, COLS, p), cpu.matrix(ROWS, COLS, Float32Array.from(w)))
      .read();
    const numeric = numericGrad(z, (v) => softmax64(v, COLS).reduce((s, pj, i) => s + pj * w[i], 0));
    expect(numeric.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    expect(worst(back, numeric)).toBeLessThan(REL_TOL);
  });

  it('tanh: f and activationBackward (1 − y²)', async () => {
    const cpu = await createBackend('cpu');
    const z = uniform(5, 12, -3, 3);
    const y = await cpu.activation('tanh', cpu.matrix(3, 4, Float32Array.from(z))).read();
    expect(worst(y, z.map(Math.tanh), 1e-30)).toBeLessThan(1e-6);
    const w = uniform(6, 12, -1, 1);
    const back = await cpu
      .activationBackward('tanh', cpu.matrix(3, 4, y), cpu.matrix(3, 4, Float32Array.from(w)))
      .read();
    const numeric = numericGrad(z, (v) => v.reduce((s, zi, i) => s + Math.tanh(zi) * w[i], 0));
    expect(worst(back, numeric)).toBeLessThan(REL_TOL);
  });

  it('crossEntropyLoss is finite at ±80 and crossEntropyGrad is its gradient at the logits', async () => {
    const cpu = await createBackend('cpu');
    const z = logits();
    const y = oneHot(ROWS, COLS, 7);
    y.fill(0, 2 * COLS, 3 * COLS);
    y[2 * COLS + 1] = 1; // the −80 class of the ±80 row: a naive softmax gives p = 0 and loss = ∞
    const Z = cpu.matrix(ROWS, COLS, Float32Array.from(z));
    const Y = cpu.matrix(ROWS, COLS, Float32Array.from(y));
    const loss = (await cpu.crossEntropyLoss(Z, Y).read())[0];
    expect(loss).toBeGreaterThan(40); // the row's own cross-entropy is 160
    expect(Math.abs(loss - crossEntropy64(z, y, COLS)) / loss).toBeLessThan(1e-6);
    const grad = await cpu.crossEntropyGrad(Z, Y).read();
    const numeric = numericGrad(z, (v) => crossEntropy64(v, y, COLS));
    expect(worst(grad, numeric)).toBeLessThan(REL_TOL);
  });
});

describe('a tanh → relu → softmax network against f64 finite differences', () => {
  const [IN, H1, H2, OUT, BATCH] = [3, 6, 5, 4, 7];
  const shapes = { w1: IN * H1, b1: H1, w2: H1 * H2, b2: H2, w3: H2 * OUT, b3: OUT } as const;
  type Name = keyof typeof shapes;
  const x = uniform(11, BATCH * IN, -1, 1);
  const y = oneHot(BATCH, OUT, 12);
  const params = Object.fromEntries(
    Object.entries(shapes).map(([k, n], i) => [k, uniform(20 + i, n, k.startsWith('w') ? -1 : -0.3, 1)]),
  ) as Record<Name, Float64Array>;

  const dense = (a: Float64Array, w: Float64Array, b: Float64Array, k: number, n: number, f: (z: number) => number) => {
    const out = new Float64Array(BATCH * n);
    for (let i = 0; i < BATCH; i++) {
      for (let j = 0; j < n; j++) {
        let s = b[j];
        for (let q = 0; q < k; q++) s += a[i * k + q] * w[q * n + j];
        out[i * n + j] = f(s);
      }
    }
    return out;
  };
  const loss64 = (p: Record<Name, Float64Array>) => {
    const a1 = dense(x, p.w1, p.b1, IN, H1, Math.tanh);
    const a2 = dense(a1, p.w2, p.b2, H1, H2, (z) => Math.max(0, z));
    return crossEntropy64(
      dense(a2, p.w3, p.b3, H2, OUT, (z) => z),
      y,
      OUT,
    );
  };

  /** The gradients from Backend ops, wired by hand as DESIGN.md writes backprop. */
  async function backprop() {
    const cpu = await createBackend('cpu');
    const m = (rows: number, cols: number, v: Float64Array) => cpu.matrix(rows, cols, Float32Array.from(v));
    const X = m(BATCH, IN, x);
    const Y = m(BATCH, OUT, y);
    const P = {
      w1: m(IN, H1, params.w1),
      b1: m(1, H1, params.b1),
      w2: m(H1, H2, params.w2),
      b2: m(1, H2, params.b2),
      w3: m(H2, OUT, params.w3),
      b3: m(1, OUT, params.b3),
    };
    const A1 = cpu.matmul(X, P.w1, { bias: P.b1, activation: 'tanh' });
    const A2 = cpu.matmul(A1, P.w2, { bias: P.b2, activation: 'relu' });
    const Z3 = cpu.matmul(A2, P.w3, { bias: P.b3 });
    const dZ3 = cpu.crossEntropyGrad(Z3, Y);
    const dZ2 = cpu.activationBackward('relu', A2, cpu.matmul(dZ3, P.w3, { transposeB: true }));
    const dZ1 = cpu.activationBackward('tanh', A1, cpu.matmul(dZ2, P.w2, { transposeB: true }));
    const grads = {
      w3: cpu.matmul(A2, dZ3, { transposeA: true }),
      b3: cpu.biasGrad(dZ3),
      w2: cpu.matmul(A1, dZ2, { transposeA: true }),
      b2: cpu.biasGrad(dZ2),
      w1: cpu.matmul(X, dZ1, { transposeA: true }),
      b1: cpu.biasGrad(dZ1),
    };
    const out = {} as Record<Name, Float32Array>;
    for (const [k, g] of Object.entries(grads)) out[k as Name] = await g.read();
    return { grads: out, a2: await A2.read() };
  }

  it.each(Object.keys(shapes) as Name[])('gradient of %s', async (name) => {
    const { grads, a2 } = await backprop();
    expect(a2.some((v) => v === 0) && a2.some((v) => v > 0), 'both relu branches').toBe(true);
    const numeric = numericGrad(params[name], () => loss64(params));
    expect(numeric.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    expect(worst(grads[name], numeric)).toBeLessThan(REL_TOL);
  });

  it('the CPU trainer takes the same step: W − lr·∇ for SGD', async () => {
    const { grads } = await backprop();
    const lr = 0.5;
    const net = new Network(await createBackend('cpu'), {
      inputSize: IN,
      layers: [
        { units: H1, activation: 'tanh' },
        { units: H2, activation: 'relu' },
        { units: OUT, activation: 'softmax' },
      ],
      loss: 'crossEntropy',
      optimizer: { type: 'sgd', learningRate: lr },
    });
    const f32 = (v: Float64Array) => Float32Array.from(v);
    net.setWeights([
      { weights: f32(params.w1), bias: f32(params.b1) },
      { weights: f32(params.w2), bias: f32(params.b2) },
      { weights: f32(params.w3), bias: f32(params.b3) },
    ]);
    const loss = await net.trainStep(f32(x), f32(y));
    expect(Math.abs(loss - loss64(params)) / loss).toBeLessThan(1e-5);
    const after = await net.getWeights();
    const expected = (['w1', 'w2', 'w3'] as const).map((k) => params[k].map((w, i) => w - lr * grads[k][i]));
    after.forEach((l, i) => {
      expect(worst(l.weights, expected[i], 1)).toBeLessThan(1e-6);
    });
  });
});

describe('classification rules', () => {
  const cpu = () => createBackend('cpu');
  const dense = (units: number, activation: 'relu' | 'softmax' | 'sigmoid') => ({ units, activation });

  it('softmax only as the output layer, and only with crossEntropy; crossEntropy only with softmax', async () => {
    const b = await cpu();
    const net = (layers: ReturnType<typeof dense>[], loss?: 'mse' | 'crossEntropy') => () =>
      new Network(b, { inputSize: 2, layers, loss });
    expect(net([dense(3, 'softmax'), dense(2, 'softmax')], 'crossEntropy')).toThrow(
      'Network: layers[0].activation is "softmax" (softmax is only for the output layer (layers[1]))',
    );
    expect(net([dense(3, 'relu'), dense(2, 'softmax')])).toThrow(
      `Network: loss is "mse" (a softmax output layer needs loss: 'crossEntropy')`,
    );
    expect(net([dense(3, 'relu'), dense(2, 'sigmoid')], 'crossEntropy')).toThrow(
      `Network: layers[1].activation is "sigmoid" (loss 'crossEntropy' needs a softmax output layer)`,
    );
    expect(net([dense(2, 'softmax')], 'hinge' as never)).toThrow(InvalidArgumentError);
  });

  it('targets must be rows that sum to 1; a refused call changes nothing', async () => {
    const net = new Network(await cpu(), {
      inputSize: 2,
      layers: [dense(3, 'softmax')],
      loss: 'crossEntropy',
      seed: 1,
    });
    const before = await net.getWeights();
    const x = Float32Array.of(1, 2, 3, 4);
    const attempts = [
      [Float32Array.of(1, 0, 0, 0, 1, 1), /y is Float32Array\(length 6\) \(row 1 sums to 2; cross-entropy targets/],
      [Float32Array.of(1, 0, 0, 1.5, -0.5, 0), /row 1 has -0\.5 at 1; cross-entropy targets are probabilities ≥ 0/],
    ] as const;
    for (const [y, message] of attempts) {
      await expect(net.trainStep(x, y)).rejects.toThrow(message);
      await expect(net.fit(x, y, { epochs: 1, batchSize: 2 })).rejects.toThrow(message);
    }
    // Soft labels are distributions too.
    await net.evaluate(x, Float32Array.of(0.2, 0.3, 0.5, 0, 0.5, 0.5));
    expect(await net.getWeights()).toEqual(before);
  });

  it('evaluate gives accuracy with { metrics: true }, and fit the validation history', async () => {
    const net = new Network(await cpu(), {
      inputSize: 2,
      layers: [dense(8, 'relu'), dense(2, 'softmax')],
      loss: 'crossEntropy',
      optimizer: { type: 'adam', learningRate: 0.05 },
      seed: 3,
    });
    const x = Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1);
    const y = Float32Array.of(1, 0, 0, 1, 0, 1, 1, 0); // XOR as two classes
    const seen: (number | undefined)[] = [];
    const history = await net.fit(x, y, {
      epochs: 200,
      batchSize: 4,
      validation: { x, y },
      onEpochEnd: (e) => {
        seen.push(e.validationAccuracy);
      },
    });
    expect(history.validationLoss).toHaveLength(200);
    expect(history.validationAccuracy).toHaveLength(200);
    expect(seen).toEqual(history.validationAccuracy);
    const metrics = await net.evaluate(x, y, { metrics: true });
    expect(metrics.accuracy).toBe(1);
    expect(metrics.loss).toBeCloseTo(history.validationLoss?.at(-1) ?? NaN, 5);
    expect(await net.evaluate(x, y)).toBe(metrics.loss);
  });
});

describe('save and load', () => {
  it('carry the loss and the weight decay; files from before them still load', async () => {
    const cpu = await createBackend('cpu');
    const net = new Network(cpu, {
      inputSize: 2,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 3, activation: 'softmax' },
      ],
      loss: 'crossEntropy',
      optimizer: { type: 'adam', learningRate: 0.01, weightDecay: 0.05 },
      seed: 9,
    });
    const copy = Network.fromJSON(cpu, JSON.parse(JSON.stringify(net)));
    expect(copy.loss).toBe('crossEntropy');
    expect(copy.optimizer.weightDecay).toBe(0.05);
    expect(copy.layers.map((l) => l.activation)).toEqual(['tanh', 'softmax']);
    // As this version's predecessor saved it: no weightDecay, loss 'mse'.
    const old = new Network(cpu, { inputSize: 2, layers: [{ units: 2, activation: 'sigmoid' }], seed: 2 });
    const file = JSON.parse(JSON.stringify(old));
    delete file.optimizer.weightDecay;
    const loaded = Network.fromJSON(cpu, file);
    expect(loaded.loss).toBe('mse');
    expect(loaded.optimizer.weightDecay).toBe(0);
    expect(await loaded.predict(Float32Array.of(1, 2))).toEqual(await old.predict(Float32Array.of(1, 2)));
  });
});
