// A whole training step as one wasm engine program (forward with fused bias + activation, the loss, the
// output gradient fused with f′, dZ·Wᵀ fused with f′(A_prev), SGD fused into dW, bias gradients and
// their updates; Adam through the optimizer op) against the CPU backend's Network over 20 steps, with the
// tolerances the WebGPU tests use: losses rtol 1e-4, weights rtol 1e-3. And 1 thread vs 2, bit for bit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, Network, type NetworkSpec } from '../../src/index';
import type { WasmBuffer } from '../../src/wasm/buffer';
import { WasmEngine } from '../../src/wasm/engine';
import type { AnyOp } from '../../src/wasm/program';
import { allclose } from '../allclose';
import { random } from './wasm_reference';

const BATCH = 23;
const SIZES = [13, 17, 5];
const STEPS = 20;

let engines: WasmEngine[];
beforeAll(async () => {
  engines = await Promise.all([1, 2].map((threads) => WasmEngine.create({ threads })));
});
afterAll(() => {
  for (const e of engines) e.destroy();
});

interface Run {
  losses: number[];
  params: Float32Array[];
}

/** Trains on the engine: one program per step, hyper-parameters rewritten in memory before each run. */
async function trainOnEngine(
  engine: WasmEngine,
  spec: NetworkSpec,
  init: Float32Array[],
  x: Float32Array,
  y: Float32Array,
) {
  const buf = (values: Float32Array | number, label: string) => {
    const b = engine.alloc(typeof values === 'number' ? values : values.length, label);
    engine.f32(b).set(typeof values === 'number' ? new Float32Array(values) : values);
    return b;
  };
  const [n0, n1, n2] = SIZES;
  const X = buf(x, 'x');
  const Y = buf(y, 'y');
  const [W1, b1, W2, b2] = init.map((v, i) => buf(v, `param${i}`));
  const A1 = buf(BATCH * n1, 'a1');
  const A2 = buf(BATCH * n2, 'a2');
  const dZ1 = buf(BATCH * n1, 'dz1');
  const dZ2 = buf(BATCH * n2, 'dz2');
  const grads = [W1, b1, W2, b2].map((p) => buf(p.count, 'grad'));
  const state = [W1, b1, W2, b2].flatMap((p) => [buf(p.count, 's1'), buf(p.count, 's2')]);
  const loss = buf(1, 'loss');
  const hyper = buf(8, 'hyper');
  const adam = spec.optimizer?.type === 'adam';
  const forward: AnyOp[] = [
    { op: 'gemm', a: X, b: W1, c: A1, m: BATCH, n: n1, k: n0, bias: b1, activation: 'relu' },
    { op: 'gemm', a: A1, b: W2, c: A2, m: BATCH, n: n2, k: n1, bias: b2, activation: 'sigmoid' },
    { op: 'mseLoss', p: A2, t: Y, out: loss, scale: 1 / (BATCH * n2) },
    { op: 'mseGrad', p: A2, t: Y, g: dZ2, scale: 2 / (BATCH * n2), activation: 'sigmoid' },
    // dZ1 = dZ2 · W2ᵀ ⊙ relu′(A1), with W2 before its update
    {
      op: 'gemm',
      a: dZ2,
      b: W2,
      c: dZ1,
      m: BATCH,
      n: n1,
      k: n2,
      transB: true,
      epilogue: 'grad',
      aux: A1,
      activation: 'relu',
    },
    { op: 'biasGrad', dz: dZ2, out: grads[3], m: BATCH, n: n2 },
    { op: 'biasGrad', dz: dZ1, out: grads[1], m: BATCH, n: n1 },
  ];
  const dW = (a: WasmBuffer, dz: WasmBuffer, c: WasmBuffer, m: number, n: number): AnyOp =>
    adam
      ? { op: 'gemm', a, b: dz, c, m, n, k: BATCH, transA: true }
      : { op: 'gemm', a, b: dz, c, m, n, k: BATCH, transA: true, epilogue: 'sgd', hyper };
  const update: AnyOp[] = [
    dW(A1, dZ2, adam ? grads[2] : W2, n1, n2),
    dW(X, dZ1, adam ? grads[0] : W1, n0, n1),
    ...[W1, b1, W2, b2]
      .map(
        (p, i): AnyOp => ({ op: adam ? 'adam' : 'sgd', p, g: grads[i], s1: state[2 * i], s2: state[2 * i + 1], hyper }),
      )
      .filter((_, i) => adam || i % 2 === 1), // with SGD the weights were updated inside dW
  ];
  const program = engine.program([...forward, ...update], 'step');
  const losses: number[] = [];
  const o = spec.optimizer as { learningRate: number; beta1?: number; beta2?: number; epsilon?: number };
  const [beta1, beta2, eps] = [o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-8];
  for (let t = 1; t <= STEPS; t++) {
    engine.f32(hyper).set([o.learningRate, beta1, beta2, eps, 1 - beta1 ** t, 1 - beta2 ** t]);
    await engine.run(program);
    losses.push(engine.f32(loss)[0]);
  }
  const run: Run = { losses, params: [W1, b1, W2, b2].map((p) => engine.f32(p).slice()) };
  program.dispose();
  for (const b of [X, Y, W1, b1, W2, b2, A1, A2, dZ1, dZ2, loss, hyper, ...grads, ...state]) engine.free(b);
  return run;
}

describe('a training step as one program', () => {
  for (const optimizer of [
    { type: 'sgd' as const, learningRate: 0.5 },
    { type: 'adam' as const, learningRate: 0.01 },
  ]) {
    it(`matches the CPU Network over ${STEPS} steps (${optimizer.type}), 1 and 2 threads identical`, async () => {
      const spec: NetworkSpec = {
        inputSize: SIZES[0],
        layers: [
          { units: SIZES[1], activation: 'relu' },
          { units: SIZES[2], activation: 'sigmoid' },
        ],
        optimizer,
        seed: 3,
      };
      const x = random(BATCH * SIZES[0], 21);
      const y = random(BATCH * SIZES[2], 22, 0, 1);
      const cpu = new Network(await createBackend('cpu'), spec);
      const init = (await cpu.getWeights()).flatMap((l) => [l.weights, l.bias]);
      const losses: number[] = [];
      for (let t = 0; t < STEPS; t++) losses.push(await cpu.trainStep(x, y));
      const want = (await cpu.getWeights()).flatMap((l) => [l.weights, l.bias]);
      const runs: Run[] = [];
      for (const engine of engines) {
        const run = await trainOnEngine(engine, spec, init, x, y);
        expect(allclose(run.losses, losses, { rtol: 1e-4, atol: 0 })).toBeNull();
        for (const [i, p] of run.params.entries()) {
          expect(allclose(p, want[i], { rtol: 1e-3, atol: 1e-6 }), `param ${i}`).toBeNull();
        }
        runs.push(run);
      }
      expect(runs[1].losses).toEqual(runs[0].losses);
      for (const [i, p] of runs[1].params.entries()) expect(Array.from(p)).toEqual(Array.from(runs[0].params[i]));
    });
  }
});
