// A classification training step built from the engine's ops the way a trainer would: tanh hidden layer,
// softmax output with cross-entropy (crossEntropy: loss, right-classified rows, dZ = (P − Y)/batch), each
// batch as micro-batches whose gradients are summed (gemm 'add', biasGrad accumulate), then momentum or
// Adam with decoupled weight decay on the weights only; or whole batches with SGD and its weight decay
// fused into dW (gemm 'sgd'). Against the CPU backend's Network over 15 steps with wasm_step's tolerances
// (losses rtol 1e-4, weights rtol 1e-3), and 1 thread vs 2, bit for bit.
import { describe, expect, it } from 'vitest';
import { createBackend, Network, type NetworkSpec, type OptimizerSpec } from '../../src/index';
import type { WasmBuffer } from '../../src/wasm/buffer';
import type { WasmEngine } from '../../src/wasm/engine';
import type { AnyOp } from '../../src/wasm/program';
import { allclose } from '../allclose';
import { put, useEngines } from './wasm_helpers';
import { random } from './wasm_reference';

const BATCH = 23;
const [IN, HIDDEN, OUT] = [13, 17, 5];
const STEPS = 15;

const engines = useEngines();

interface Run {
  losses: number[];
  right: number[];
  params: Float32Array[];
}

/** The ops of one micro-batch: rows [first, first + rows) of the batch; `add` after the batch's first. */
function microBatch(
  b: Record<string, WasmBuffer>,
  first: number,
  rows: number,
  add: boolean,
  fusedSgd: boolean,
): AnyOp[] {
  const x = b.x.sub(first * IN, rows * IN);
  const y = b.y.sub(first * OUT, rows * OUT);
  const [a1, z2] = [b.a1.sub(0, rows * HIDDEN), b.z2.sub(0, rows * OUT)];
  const [dz1, dz2] = [b.dz1.sub(0, rows * HIDDEN), b.dz2.sub(0, rows * OUT)];
  const dW = (a: WasmBuffer, dz: WasmBuffer, grad: WasmBuffer, w: WasmBuffer, m: number, n: number): AnyOp =>
    fusedSgd
      ? { op: 'gemm', a, b: dz, c: w, m, n, k: rows, transA: true, epilogue: 'sgd', hyper: b.hyper }
      : { op: 'gemm', a, b: dz, c: grad, m, n, k: rows, transA: true, epilogue: add ? 'add' : 'forward' };
  return [
    { op: 'gemm', a: x, b: b.w1, c: a1, m: rows, n: HIDDEN, k: IN, bias: b.b1, activation: 'tanh' },
    { op: 'gemm', a: a1, b: b.w2, c: z2, m: rows, n: OUT, k: HIDDEN, bias: b.b2 },
    {
      op: 'crossEntropy',
      z: z2,
      t: y,
      m: rows,
      n: OUT,
      loss: b.loss,
      lossScale: 1 / BATCH,
      accumulate: add,
      correct: b.right,
      dz: dz2,
      gradScale: 1 / BATCH,
    },
    // dZ1 = dZ2 · W2ᵀ ⊙ tanh′(A1), with W2 before its update
    {
      op: 'gemm',
      a: dz2,
      b: b.w2,
      c: dz1,
      m: rows,
      n: HIDDEN,
      k: OUT,
      transB: true,
      epilogue: 'grad',
      aux: a1,
      activation: 'tanh',
    },
    dW(a1, dz2, b.gw2, b.w2, HIDDEN, OUT),
    { op: 'biasGrad', dz: dz2, out: b.gb2, m: rows, n: OUT, accumulate: add },
    dW(x, dz1, b.gw1, b.w1, IN, HIDDEN),
    { op: 'biasGrad', dz: dz1, out: b.gb1, m: rows, n: HIDDEN, accumulate: add },
  ];
}

/** Trains on the engine: one program per step, the hyper block rewritten before each run. */
async function train(engine: WasmEngine, o: OptimizerSpec, init: Float32Array[], x: Float32Array, y: Float32Array) {
  const kind = o.type;
  const fusedSgd = kind === 'sgd';
  const sizes = { a1: BATCH * HIDDEN, z2: BATCH * OUT, dz1: BATCH * HIDDEN, dz2: BATCH * OUT, loss: 1, right: 1 };
  const b: Record<string, WasmBuffer> = { x: put(engine, x, 'x'), y: put(engine, y, 'y') };
  for (const [k, n] of Object.entries(sizes)) b[k] = engine.alloc(n, k);
  ['w1', 'b1', 'w2', 'b2'].forEach((k, i) => {
    b[k] = put(engine, init[i], k);
    b[`g${k}`] = engine.alloc(init[i].length, `g${k}`);
    b[`s1${k}`] = put(engine, new Float32Array(init[i].length), `s1${k}`);
    b[`s2${k}`] = put(engine, new Float32Array(init[i].length), `s2${k}`);
  });
  b.hyper = engine.alloc(8, 'hyper');
  // SGD with its update fused into dW runs whole batches; the others two micro-batches of 16 and 7 rows.
  const parts = fusedSgd
    ? [[0, BATCH]]
    : [
        [0, 16],
        [16, 7],
      ];
  const update = (['w1', 'b1', 'w2', 'b2'] as const)
    .filter((k) => !fusedSgd || k.startsWith('b'))
    .map(
      (k): AnyOp => ({
        op: kind,
        p: b[k],
        g: b[`g${k}`],
        s1: b[`s1${k}`],
        s2: b[`s2${k}`],
        hyper: b.hyper,
        decay: k.startsWith('w'),
      }),
    );
  const program = engine.program([
    { op: 'fill', dst: b.right, value: 0 },
    ...parts.flatMap(([first, rows], i) => microBatch(b, first, rows, i > 0, fusedSgd)),
    ...update,
  ]);
  const run: Run = { losses: [], right: [], params: [] };
  const [beta1, beta2, eps] = o.type === 'adam' ? [o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-8] : [0, 0, 0];
  const mu = o.type === 'momentum' ? o.momentum : beta1;
  for (let t = 1; t <= STEPS; t++) {
    engine.f32(b.hyper).set([o.learningRate, mu, beta2, eps, 1 - beta1 ** t, 1 - beta2 ** t, o.weightDecay ?? 0]);
    await engine.run(program);
    run.losses.push(engine.f32(b.loss)[0]);
    run.right.push(engine.u32(b.right)[0]);
  }
  run.params = ['w1', 'b1', 'w2', 'b2'].map((k) => engine.f32(b[k]).slice());
  program.dispose();
  for (const buf of Object.values(b)) engine.free(buf);
  return run;
}

describe('a classification step from the engine ops', () => {
  const optimizers: OptimizerSpec[] = [
    { type: 'sgd', learningRate: 0.5, weightDecay: 0.05 },
    { type: 'momentum', learningRate: 0.1, momentum: 0.9, weightDecay: 0.05 },
    { type: 'adam', learningRate: 0.01, weightDecay: 0.1 },
  ];
  for (const optimizer of optimizers) {
    const how = optimizer.type === 'sgd' ? 'whole batches, SGD fused into dW' : 'two micro-batches';
    it(`matches the CPU Network (${optimizer.type}, weight decay, ${how}), 1 and 2 threads identical`, async () => {
      const spec: NetworkSpec = {
        inputSize: IN,
        layers: [
          { units: HIDDEN, activation: 'tanh' },
          { units: OUT, activation: 'softmax' },
        ],
        loss: 'crossEntropy',
        optimizer,
        seed: 5,
      };
      const x = random(BATCH * IN, 61, -2, 2);
      const classes = random(BATCH, 62, 0, OUT);
      const y = new Float32Array(BATCH * OUT);
      classes.forEach((c, r) => {
        y[r * OUT + Math.floor(c)] = 1;
      });
      const cpu = new Network(await createBackend('cpu'), spec);
      const init = (await cpu.getWeights()).flatMap((l) => [l.weights, l.bias]);
      const losses: number[] = [];
      for (let t = 0; t < STEPS; t++) losses.push(await cpu.trainStep(x, y));
      const want = (await cpu.getWeights()).flatMap((l) => [l.weights, l.bias]);
      const runs: Run[] = [];
      for (const engine of engines) runs.push(await train(engine, optimizer, init, x, y));
      expect(allclose(runs[0].losses, losses, { rtol: 1e-4, atol: 0 })).toBeNull();
      expect(losses[STEPS - 1]).toBeLessThan(losses[0] * 0.8); // it does learn
      for (const [i, p] of runs[0].params.entries()) {
        expect(allclose(p, want[i], { rtol: 1e-3, atol: 1e-6 }), `param ${i}`).toBeNull();
      }
      expect(runs[0].right.every((r) => r >= 0 && r <= BATCH)).toBe(true);
      expect(runs[0].right[STEPS - 1]).toBeGreaterThan(runs[0].right[0]);
      expect(runs[1]).toEqual(runs[0]);
    });
  }
});
