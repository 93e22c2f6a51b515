// The wasm engine's parameter updates and micro-batch sums against plain f64 loops: sgd, momentum and Adam
// with decoupled weight decay on and off, biasGrad accumulating, and a batch's weight gradient summed over
// micro-batches with the gemm 'add' epilogue; 1 thread against 2, bit for bit. (The gemm epilogues on
// every shape, 'sgd' with weight decay and 'add' among them, are in wasm_engine.test.ts.)
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../src/wasm/program';
import { bits, expectClose, onBoth, put, U, useEngines } from './wasm_helpers';
import { random } from './wasm_reference';

const engines = useEngines();

describe('optimizers', () => {
  // Two CHUNKs (8192 elements) and a ragged tail of 3, which goes through the same vector code.
  const n = 8192 + 8 + 3;
  const p0 = random(n, 17);
  const g = random(n, 18);
  const LR = [0.01, 0.02];
  const WD = 0.1;

  /** Two steps of the rule in f64 from p0, g; with decay p −= lr·(u + wd·p). */
  function reference(kind: 'sgd' | 'momentum' | 'adam', decay: boolean): Float64Array {
    const p = Float64Array.from(p0);
    const s1 = new Float64Array(n);
    const s2 = new Float64Array(n);
    for (let step = 1; step <= 2; step++) {
      const lr = LR[step - 1];
      for (let i = 0; i < n; i++) {
        let u = g[i];
        if (kind === 'momentum') {
          s1[i] = 0.9 * s1[i] + g[i];
          u = s1[i];
        } else if (kind === 'adam') {
          s1[i] = 0.9 * s1[i] + 0.1 * g[i];
          s2[i] = 0.999 * s2[i] + 0.001 * g[i] * g[i];
          u = s1[i] / (1 - 0.9 ** step) / (Math.sqrt(s2[i] / (1 - 0.999 ** step)) + 1e-8);
        }
        p[i] -= lr * (u + (decay ? WD * p[i] : 0));
      }
    }
    return p;
  }

  for (const kind of ['sgd', 'momentum', 'adam'] as const) {
    for (const decay of [false, true]) {
      it(`${kind}${decay ? ' with weight decay' : ''}: two steps, hyper-parameters read at each run`, async () => {
        const results: Record<string, Float32Array>[] = [];
        for (const engine of engines) {
          const b = { p: put(engine, p0, 'p'), g: put(engine, g, 'g'), s1: engine.alloc(n), s2: engine.alloc(n) };
          engine.f32(b.s1).fill(0);
          engine.f32(b.s2).fill(0);
          const hyper = engine.alloc(8, 'hyper');
          const program = engine.program([{ op: kind, ...b, hyper, decay }]);
          for (let step = 1; step <= 2; step++) {
            // wd is set either way: without decay it must be ignored.
            engine.f32(hyper).set([LR[step - 1], 0.9, 0.999, 1e-8, 1 - 0.9 ** step, 1 - 0.999 ** step, WD, 0]);
            await engine.run(program);
          }
          results.push({ p: engine.f32(b.p).slice(), s1: engine.f32(b.s1).slice(), s2: engine.f32(b.s2).slice() });
          program.dispose();
          for (const x of [...Object.values(b), hyper]) engine.free(x);
        }
        for (const k of ['p', 's1', 's2']) expect(bits(results[1][k]), k).toEqual(bits(results[0][k]));
        // |p| < 1.1 and each step moves it by under 0.05: a few f32 roundings of p per step.
        expectClose(results[0].p, reference(kind, decay), () => 8 * U, 1e-6, kind);
      });
    }
  }
});

describe('micro-batches', () => {
  const SHAPES = [
    [1, 1],
    [7, 13],
    [65, 10],
    [33, 129],
  ];

  it('biasGrad with accumulate adds the column sums to out (f64, rounded once)', async () => {
    for (const [m, n] of SHAPES) {
      const dz = random(m * n, m + n);
      const out0 = random(n, 7);
      const [r] = await onBoth(
        engines,
        { dz, sum: out0, twice: out0 },
        (b) => [
          { op: 'biasGrad', dz: b.dz, out: b.sum, m, n, accumulate: true },
          { op: 'biasGrad', dz: b.dz, out: b.twice, m, n, accumulate: true },
          { op: 'biasGrad', dz: b.dz, out: b.twice, m, n, accumulate: true },
        ],
        ['sum', 'twice'],
      );
      // The engine's order (out[j] first, then the rows), so the f64 sums and their rounding are exact.
      const plus = (start: number, j: number) => {
        let s = start;
        for (let i = 0; i < m; i++) s += dz[i * n + j];
        return Math.fround(s);
      };
      const once = Array.from(out0, plus);
      expect(Array.from(r.sum), `${m}×${n}`).toEqual(once);
      expect(Array.from(r.twice), `${m}×${n} twice`).toEqual(once.map(plus));
    }
  });

  it("a weight gradient summed over micro-batches with the 'add' epilogue matches the whole batch's", async () => {
    // dW = Xᵀ·dZ over a batch of 70 rows, as one gemm and as micro-batches of 32, 32 and 6 rows.
    const [rows, k, n] = [70, 33, 129];
    const x = random(rows * k, 31);
    const dz = random(rows * n, 32);
    const parts = [0, 32, 64, 70];
    const [r] = await onBoth(
      engines,
      { x, dz, whole: new Float32Array(k * n), summed: random(k * n, 33) },
      (b) => [
        { op: 'gemm', a: b.x, b: b.dz, c: b.whole, m: k, n, k: rows, transA: true },
        ...parts.slice(1).map((end, i): AnyOp => {
          const first = parts[i];
          const a = b.x.sub(first * k, (end - first) * k);
          const d = b.dz.sub(first * n, (end - first) * n);
          // The first micro-batch overwrites what the buffer held, the others add to it.
          const epilogue = i === 0 ? 'forward' : 'add';
          return { op: 'gemm', a, b: d, c: b.summed, m: k, n, k: end - first, transA: true, epilogue };
        }),
      ],
      ['whole', 'summed'],
    );
    // Each holds Σ over 70 rows of x·dz with |x·dz| < 1: within 70·u·Σ|x·dz| of the exact sum, both.
    const want = new Float64Array(k * n);
    const mag = new Float64Array(k * n);
    for (let i = 0; i < rows; i++) {
      for (let p = 0; p < k; p++) {
        for (let j = 0; j < n; j++) {
          want[p * n + j] += x[i * k + p] * dz[i * n + j];
          mag[p * n + j] += Math.abs(x[i * k + p] * dz[i * n + j]);
        }
      }
    }
    expectClose(r.whole, want, (i) => rows * U * mag[i], 0, 'whole batch');
    expectClose(r.summed, want, (i) => rows * U * mag[i], 0, 'micro-batches');
  });
});
