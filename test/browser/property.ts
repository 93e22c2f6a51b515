// Property-based checks run in the test page: random shapes, lengths and values thrown at the Backend
// ops and the Network API. Every call must either give the CPU reference's answer or throw one of the
// library's documented errors — on both backends alike — and the GPU must report no error of its own.
import fc from 'fast-check';
import * as WB from '../../src/index';
import { allclose } from '../allclose';
import { rand } from './helpers/data';

type Outcome = { ok: true; values: Float32Array } | { ok: false; error: string };

/** How many generated calls succeeded and how many threw, so a spec can check both paths ran. */
export interface Tally {
  succeeded: number;
  threw: number;
}

async function outcome(f: () => Promise<Float32Array>): Promise<Outcome> {
  try {
    return { ok: true, values: await f() };
  } catch (e) {
    if (!(e instanceof WB.BackpropError))
      throw new Error(`undocumented error: ${(e as Error)?.name}: ${(e as Error)?.message}`);
    return { ok: false, error: e.name };
  }
}

/** Same error class on both, or results within `tol`; returns a description of any disagreement. */
function compare(gpu: Outcome, cpu: Outcome, rtol: number, atol: number): string | null {
  if (gpu.ok !== cpu.ok) {
    const said = (r: Outcome) => (r.ok ? 'succeeded' : `threw ${(r as { error: string }).error}`);
    return `gpu ${said(gpu)}, cpu ${said(cpu)}`;
  }
  if (!gpu.ok || !cpu.ok)
    return gpu.ok || cpu.ok || gpu.error === cpu.error ? null : `gpu threw ${gpu.error}, cpu threw ${cpu.error}`;
  return allclose(gpu.values, cpu.values, { rtol, atol });
}

// Mostly sensible sizes, sometimes invalid ones.
const dim = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 2.5, NaN) },
);
const values = (n: number, seed: number) => rand(Math.max(0, n), seed);

export async function backendProperty(
  gpu: WB.Backend,
  gpuErrors: string[],
  numRuns: number,
  seed: number,
): Promise<Tally> {
  const tally = { succeeded: 0, threw: 0 };
  const cpu = await WB.createBackend('cpu');
  const ops = [
    'matmul',
    'matmulT',
    'activation',
    'activationBackward',
    'biasGrad',
    'mseLoss',
    'mseGrad',
    'sgdUpdate',
  ] as const;
  const kinds = fc.constantFrom<string>('relu', 'sigmoid', 'linear', 'tanh');
  const arb = fc.record({
    op: fc.constantFrom(...ops),
    r1: dim,
    c1: dim,
    r2: dim,
    c2: dim,
    kind: kinds,
    lr: fc.constantFrom(0.1, 0, -1, NaN),
    lenDelta: fc.constantFrom(0, 0, 0, 1),
    seed: fc.integer(),
  });
  await fc.assert(
    fc.asyncProperty(arb, async (c) => {
      const run = (b: WB.Backend) =>
        outcome(async () => {
          const made: WB.Matrix[] = [];
          const m = (rows: number, cols: number, s: number, delta = 0) => {
            const x = b.matrix(rows, cols, values(rows * cols + delta, s));
            made.push(x);
            return x;
          };
          try {
            const a = m(c.r1, c.c1, c.seed, c.lenDelta);
            const kind = c.kind as WB.Activation;
            let out: WB.Matrix;
            switch (c.op) {
              case 'matmul':
                out = b.matmul(a, m(c.r2, c.c2, c.seed + 1), {
                  bias: c.lr > 0 ? m(1, c.c2, c.seed + 2) : undefined,
                  activation: kind,
                });
                break;
              case 'matmulT':
                out = b.matmul(a, m(c.r2, c.c2, c.seed + 1), {
                  transposeA: c.seed % 2 === 0,
                  transposeB: c.seed % 3 === 0,
                });
                break;
              case 'activation':
                out = b.activation(kind, a);
                break;
              case 'activationBackward':
                out = b.activationBackward(kind, m(c.r1, c.c1, c.seed + 3), m(c.r2, c.c2, c.seed + 1));
                break;
              case 'biasGrad':
                out = b.biasGrad(a);
                break;
              case 'mseLoss':
                out = b.mseLoss(a, m(c.r2, c.c2, c.seed + 1));
                break;
              case 'mseGrad':
                out = b.mseGrad(a, m(c.r2, c.c2, c.seed + 1));
                break;
              case 'sgdUpdate':
                b.sgdUpdate(a, m(c.r2, c.c2, c.seed + 1), c.lr);
                out = a;
                break;
            }
            made.push(out);
            return await out.read();
          } finally {
            for (const x of made) x.dispose();
          }
        });
      const g = await run(gpu);
      const k = await run(cpu);
      // f32 sums of at most 40 products of values in [-1, 1): well inside 1e-5 absolute.
      const problem = compare(g, k, 1e-5, 1e-5);
      const errors = gpuErrors.splice(0);
      if (problem || errors.length) throw new Error(`${JSON.stringify(c)}: ${problem ?? ''} ${errors.join('; ')}`);
      tally[g.ok ? 'succeeded' : 'threw']++;
    }),
    { numRuns, seed },
  );
  return tally;
}

export async function networkProperty(
  gpu: WB.Backend,
  gpuErrors: string[],
  numRuns: number,
  seed: number,
): Promise<Tally> {
  const tally = { succeeded: 0, threw: 0 };
  const cpu = await WB.createBackend('cpu');
  // Mostly valid networks, so that both the training path and the refusals get exercised.
  const activation = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom<string>('relu', 'sigmoid', 'linear') },
    { weight: 1, arbitrary: fc.constant('softmax') },
  );
  const units = fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 1, max: 24 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, -1, 2.5, NaN) },
  );
  const layer = fc.record({ units, activation });
  const arb = fc.record({
    inputSize: units,
    layers: fc.oneof(
      { weight: 15, arbitrary: fc.array(layer, { minLength: 1, maxLength: 3 }) },
      { weight: 1, arbitrary: fc.constant([]) },
    ),
    rows: fc.integer({ min: 1, max: 12 }),
    xDelta: fc.constantFrom(0, 0, 0, 0, 0, 0, -1, 1),
    yDelta: fc.constantFrom(0, 0, 0, 0, 0, 2),
    poison: fc.constantFrom('none', 'none', 'none', 'none', 'none', 'nan-x', 'inf-y'),
    optimizer: fc.constantFrom<object>(
      { type: 'sgd', learningRate: 0.1 },
      { type: 'adam', learningRate: 0.01 },
      { type: 'momentum', learningRate: 0.05, momentum: 0.9 },
      { type: 'sgd', learningRate: 0.3 },
      { type: 'adam', learningRate: 0.002 },
      { type: 'sgd', learningRate: -1 },
      { type: 'lbfgs' },
    ),
    seed: fc.integer({ min: 0, max: 1000 }),
  });
  await fc.assert(
    fc.asyncProperty(arb, async (c) => {
      const run = (b: WB.Backend) =>
        outcome(async () => {
          const net = new WB.Network(b, {
            inputSize: c.inputSize,
            layers: c.layers as WB.NetworkSpec['layers'],
            optimizer: c.optimizer as WB.OptimizerSpec,
            seed: c.seed,
          });
          try {
            const out = c.layers.length ? c.layers[c.layers.length - 1].units : 1;
            const x = values(c.rows * c.inputSize + c.xDelta, c.seed);
            const y = values(c.rows * out + c.yDelta, c.seed + 1);
            if (c.poison === 'nan-x' && x.length) x[0] = NaN;
            if (c.poison === 'inf-y' && y.length) y[y.length - 1] = Infinity;
            const losses = [await net.trainStep(x, y), await net.trainStep(x, y)];
            return Float32Array.from([...losses, ...(await net.predict(x))]);
          } finally {
            net.destroy();
          }
        });
      const g = await run(gpu);
      const k = await run(cpu);
      const problem = compare(g, k, 1e-4, 1e-6);
      const errors = gpuErrors.splice(0);
      if (problem || errors.length) throw new Error(`${JSON.stringify(c)}: ${problem ?? ''} ${errors.join('; ')}`);
      tally[g.ok ? 'succeeded' : 'threw']++;
    }),
    { numRuns, seed },
  );
  return tally;
}
