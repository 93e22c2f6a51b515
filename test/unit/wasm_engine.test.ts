// The wasm engine (src/wasm) in Node: every op against the plain-loop references in wasm_reference.ts,
// GEMM on shapes that hit every edge of the 5×8 micro-kernel, the tiles, the K blocks and the packing
// chunks, in all three forms with every epilogue; and 1 thread against 2 threads, bit for bit.
// Node 20 runs the plain-SIMD build (relaxed SIMD needs a flag there).
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import type { WasmBuffer } from '../../src/wasm/buffer';
import type { WasmEngine } from '../../src/wasm/engine';
import * as L from '../../src/wasm/layout';
import type { AnyOp, GemmOp } from '../../src/wasm/program';
import { bits, expectClose, expectSameBits, onBoth as onEngines, put, U, useEngines } from './wasm_helpers';
import { ACTS, type Act, df, epilogue, f, type GemmSpec, product, random } from './wasm_reference';

const engines = useEngines();
let one: WasmEngine;
let two: WasmEngine;
beforeAll(() => {
  [one, two] = engines;
});

// Shapes around the 5×8 micro-kernel (ragged M and N, 1×1×1, K = 1), over one tile (MC = 80, NC = 256),
// over one K block (KC = 256), and A or B packed in two chunks (m·k or k·n over PACK_FLOATS = 2^20).
const SHAPES: GemmSpec[] = [
  { m: 1, n: 1, k: 1 },
  { m: 7, n: 13, k: 1 },
  { m: 5, n: 8, k: 4 },
  { m: 6, n: 9, k: 17 },
  { m: 4, n: 7, k: 3 },
  { m: 23, n: 31, k: 45 },
  { m: 85, n: 263, k: 300 },
  { m: 3501, n: 3, k: 300 },
  { m: 3, n: 3500, k: 300 },
];
const FORMS = [
  { transA: false, transB: false },
  { transA: true, transB: false },
  { transA: false, transB: true },
];

describe('gemm', () => {
  for (const shape of SHAPES) {
    for (const form of FORMS) {
      const s = { ...shape, ...form };
      const name = `${s.m}×${s.n}×${s.k}${s.transA ? ' Aᵀ' : ''}${s.transB ? ' Bᵀ' : ''}`;
      it(`${name}: every epilogue, 1 and 2 threads identical`, async () => {
        const a0 = random(s.m * s.k, s.m + 1);
        const b0 = random(s.k * s.n, s.n + 2);
        const c0 = random(s.m * s.n, 3);
        const bias0 = random(s.n, 4);
        const y0 = random(s.m * s.n, 5, 0, 1); // outputs of every activation lie in [0, 1) or beyond
        // Hyper blocks (lr at word 0, wd at word 6): the sgd epilogue without and with weight decay.
        const hyper0 = [Float32Array.of(0.1, 9, 9, 9, 9, 9, 0, 9), Float32Array.of(0.1, 9, 9, 9, 9, 9, 0.25, 9)];
        const { p, mag } = product(a0, b0, s);
        type Case = { epi: 'forward' | 'grad' | 'sgd' | 'add'; act: Act; bias?: boolean; wd?: number };
        const cases: Case[] = [
          { epi: 'forward', act: 'linear' },
          ...ACTS.map((act) => ({ epi: 'forward' as const, act, bias: true })),
          ...ACTS.map((act) => ({ epi: 'grad' as const, act })),
          { epi: 'sgd', act: 'linear', wd: 0 },
          { epi: 'sgd', act: 'linear', wd: 0.25 },
          { epi: 'add', act: 'linear' },
        ];
        // The epilogues that read C start from c0, the others from zeros.
        const readsC = (epi: Case['epi']) => epi === 'sgd' || epi === 'add';
        const results: Float32Array[][] = [];
        for (const engine of engines) {
          const a = put(engine, a0, 'a');
          const b = put(engine, b0, 'b');
          const bias = put(engine, bias0, 'bias');
          const hyper = hyper0.map((h) => put(engine, h, 'hyper'));
          const outs = cases.map(({ epi }) => put(engine, readsC(epi) ? c0 : new Float32Array(c0.length), 'c'));
          const aux = put(engine, y0, 'y');
          const ops: GemmOp[] = cases.map(({ epi, act, bias: withBias, wd }, i) => ({
            op: 'gemm',
            ...s,
            a,
            b,
            c: outs[i],
            epilogue: epi,
            activation: act,
            bias: withBias ? bias : undefined,
            aux: epi === 'grad' ? aux : undefined,
            hyper: epi === 'sgd' ? hyper[wd ? 1 : 0] : undefined,
          }));
          await engine.runOps(ops);
          results.push(outs.map((o) => engine.f32(o).slice()));
          for (const x of [a, b, bias, aux, ...hyper, ...outs]) engine.free(x);
        }
        cases.forEach(({ epi, act, bias, wd }, i) => {
          const want = epilogue(p, readsC(epi) ? c0 : new Float32Array(c0.length), s, {
            epilogue: epi,
            activation: act,
            bias: bias ? bias0 : undefined,
            aux: y0,
            lr: 0.1,
            wd,
          });
          // f32 sums in order: at most k·u·Σ|a·b| (slopes of f and f' are ≤ 1 here); then a few ulp for
          // the bias add, the activation's exp and the epilogue's rounding (|C| < 1 for sgd and add).
          const lrScale = epi === 'sgd' ? 0.1 : 1;
          const bound = (j: number) => s.k * U * mag[j] * lrScale + 4 * U;
          expectClose(results[0][i], want, bound, 4e-6, `${name} ${epi} ${act}${bias ? ' +bias' : ''} wd ${wd}`);
          expectSameBits(results[1][i], results[0][i], `${name} ${epi} ${act}: 2 threads vs 1`);
        });
      });
    }
  }

  it('reads strided operands (lda, ldb, ldc past the row length)', async () => {
    const s = { m: 9, n: 11, k: 14, lda: 20, ldb: 13, ldc: 16 };
    const a0 = random(s.m * s.lda, 7);
    const b0 = random(s.k * s.ldb, 8);
    const c0 = random(s.m * s.ldc, 9);
    const engine = one;
    const [a, b, c] = [put(engine, a0, 'a'), put(engine, b0, 'b'), put(engine, c0, 'c')];
    await engine.runOps([{ op: 'gemm', a, b, c, ...s }]);
    const want = epilogue(product(a0, b0, s).p, c0, s, { epilogue: 'forward', activation: 'linear' });
    expectClose(engine.f32(c), want, () => s.k * 4 * U, 1e-6, 'strided');
    for (const x of [a, b, c]) engine.free(x);
  });

  it('reads the learning rate and weight decay at run time', async () => {
    const engine = two;
    const s = { m: 3, n: 4, k: 2 };
    const [a, b, c] = [put(engine, random(6, 1), 'a'), put(engine, random(8, 2), 'b'), put(engine, random(12, 3), 'c')];
    const hyper = put(engine, new Float32Array(8), 'hyper');
    const program = engine.program([{ op: 'gemm', a, b, c, ...s, epilogue: 'sgd', hyper }]);
    const before = engine.f32(c).slice();
    await engine.run(program);
    expect(bits(engine.f32(c))).toEqual(bits(before));
    engine.f32(hyper).set([0.5, 0, 0, 0, 0, 0, 0.1]);
    await engine.run(program);
    const want = epilogue(product(engine.f32(a), engine.f32(b), s).p, before, s, {
      epilogue: 'sgd',
      activation: 'linear',
      lr: 0.5,
      wd: 0.1,
    });
    expectClose(engine.f32(c), want, () => 8 * U, 1e-6, 'sgd lr');
    program.dispose();
    for (const x of [a, b, c, hyper]) engine.free(x);
  });
});

const onBoth = (
  inputs: Record<string, Float32Array>,
  ops: (b: Record<string, WasmBuffer>) => AnyOp[],
  outputs: string[],
  runs = 1,
) => onEngines(engines, inputs, ops, outputs, runs);

describe('elementwise and reduction ops', () => {
  // Spans several CHUNK (8192-element) pieces, with a ragged tail.
  const N = 3 * 8192 + 7;

  it('activation and activationGrad', async () => {
    const x = random(N, 11, -6, 6);
    x.set([0, -0, 100, -100, 1e-6, -1e-6, 0.25, -0.25, 88.5, -88.5]);
    const y = random(N, 12, 0, 1);
    const dy = random(N, 13);
    for (const act of ACTS) {
      const [r] = await onBoth(
        { x, y, dy, fx: new Float32Array(N), g: new Float32Array(N) },
        (b) => [
          { op: 'activation', x: b.x, y: b.fx, activation: act },
          { op: 'activationGrad', y: b.y, dy: b.dy, out: b.g, activation: act },
        ],
        ['fx', 'g'],
      );
      // The engine's exp and tanh are within a few ulp; below 1e-38 (sigmoid(-88.5)) it may differ absolutely.
      expectClose(
        r.fx,
        Array.from(x, (z) => (act === 'linear' ? z : Math.fround(f(act, z)))),
        () => 1e-37,
        4e-6,
        act,
      );
      expectClose(
        r.g,
        Array.from(y, (v, i) => dy[i] * df(act, v)),
        () => U,
        1e-6,
        `${act}'`,
      );
    }
  });

  it('activation in place (y aliases x)', async () => {
    const x = random(100, 14, -3, 3);
    const engine = one;
    const b = put(engine, x, 'x');
    await engine.runOps([{ op: 'activation', x: b, y: b, activation: 'tanh' }]);
    expectClose(engine.f32(b), Array.from(x, Math.tanh), () => U, 4e-6, 'in place');
    engine.free(b);
  });

  it('biasGrad: column sums in f64', async () => {
    for (const [m, n] of [
      [1, 1],
      [7, 13],
      [300, 1029],
    ]) {
      const dz = random(m * n, m + n);
      const [r] = await onBoth(
        { dz, out: new Float32Array(n) },
        (b) => [{ op: 'biasGrad', dz: b.dz, out: b.out, m, n }],
        ['out'],
      );
      const want = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let i = 0; i < m; i++) s += dz[i * n + j];
        return s;
      });
      expectClose(r.out, want, () => 0, 1e-7, `biasGrad ${m}×${n}`);
    }
  });

  it('mseLoss (and accumulating) and mseGrad fused with f′', async () => {
    const p = random(N, 15, 0, 1);
    const t = random(N, 16, 0, 1);
    let sse = 0;
    for (let i = 0; i < N; i++) sse += (p[i] - t[i]) ** 2;
    const [r] = await onBoth(
      { p, t, loss: Float32Array.of(0), total: Float32Array.of(1), g: new Float32Array(N) },
      (b) => [
        { op: 'mseLoss', p: b.p, t: b.t, out: b.loss, scale: 1 / N },
        { op: 'mseLoss', p: b.p, t: b.t, out: b.total, scale: 1, accumulate: true },
        { op: 'mseGrad', p: b.p, t: b.t, g: b.g, scale: 2 / N, activation: 'sigmoid' },
      ],
      ['loss', 'total', 'g'],
      2,
    );
    expectClose(r.loss, [sse / N], () => 0, 1e-7, 'mean');
    expectClose(r.total, [1 + 2 * sse], () => 0, 1e-6, 'accumulated twice');
    const scale = Math.fround(2 / N);
    expectClose(
      r.g,
      Array.from(p, (v, i) => scale * (v - t[i]) * v * (1 - v)),
      () => 0,
      8 * U,
      'grad',
    );
  });

  it('gather with an offset read at run time, copy and fill', async () => {
    const rows = 6;
    const cols = 3;
    const src = random(10 * cols, 19);
    const idx = new Float32Array(Uint32Array.of(9, 0, 4, 4, 7, 1, 2, 3, 5, 6, 8, 0).buffer);
    const engine = two;
    const b = { src: put(engine, src, 'src'), idx: put(engine, idx, 'idx'), out: engine.alloc(rows * cols, 'out') };
    const offset = engine.alloc(1, 'offset');
    const copied = engine.alloc(src.length, 'copied');
    const filled = engine.alloc(1000, 'filled');
    const program = engine.program([
      { op: 'gather', ...b, rows, cols, offset },
      { op: 'copy', src: b.src, dst: copied },
      { op: 'fill', dst: filled, value: -2.5 },
    ]);
    const index = new Uint32Array(idx.buffer);
    for (const start of [0, 6]) {
      engine.u32(offset)[0] = start;
      await engine.run(program);
      const want = Array.from(
        { length: rows * cols },
        (_, e) => src[index[start + Math.floor(e / cols)] * cols + (e % cols)],
      );
      expect(Array.from(engine.f32(b.out))).toEqual(want);
    }
    expect(Array.from(engine.f32(copied))).toEqual(Array.from(src));
    expect(engine.f32(filled).every((v) => v === -2.5)).toBe(true);
    engine.u32(b.idx)[7] = 10; // one row past the source
    await expect(engine.run(program)).rejects.toThrow(/gather met an index/);
    program.dispose();
    for (const x of [...Object.values(b), offset, copied, filled]) engine.free(x);
  });
});

describe('programs', () => {
  it('refuse bad ops before anything runs', () => {
    const a = one.alloc(6, 'a');
    const c = one.alloc(6, 'c');
    expect(() => one.program([{ op: 'gemm', a, b: a, c, m: 2, n: 3, k: 3 }])).toThrow(/has 6 elements, needs 9/);
    expect(() => one.program([{ op: 'gemm', a, b: c, c: a, m: 2, n: 3, k: 2 }])).toThrow(/overlaps/);
    expect(() => one.program([{ op: 'activation', x: a, y: c, activation: 'softmax' as Act }])).toThrow(
      InvalidArgumentError,
    );
    expect(() => one.program([{ op: 'nope' } as unknown as AnyOp])).toThrow(/unknown op/);
    expect(() => one.program([{ op: 'activation', x: a, y: c, activation: 'toString' as Act }])).toThrow(
      /activation is toString/,
    );
    const other = two.alloc(6);
    expect(() => one.program([{ op: 'activation', x: a, y: other, activation: 'relu' }])).toThrow(
      /not a buffer of this engine/,
    );
    two.free(other);
    one.free(a);
    one.free(c);
  });

  it('refuse what the softmax, cross-entropy and update ops do not allow', () => {
    const z = one.alloc(12, 'z');
    const t = one.alloc(12, 't');
    const s = one.alloc(16, 'stats');
    const [loss, correct] = [s.sub(0, 1, 'loss'), s.sub(1, 1, 'correct')];
    const ce = { op: 'crossEntropy', z, t, m: 3, n: 4, loss, lossScale: 1 } as const;
    const program = (op: AnyOp) => () => one.program([op]);
    expect(program({ ...ce, correct, dz: z, gradScale: 1 })).toThrow(/z 'z' overlaps dz 'z'/);
    expect(program({ ...ce, dz: t })).toThrow(/dz needs gradScale/);
    expect(program({ ...ce, correct: loss })).toThrow(/overlaps/);
    expect(program({ ...ce, lossScale: Number.NaN })).toThrow(/lossScale is NaN/);
    expect(program({ ...ce, m: 4 })).toThrow(/has 12 elements, needs 16/);
    expect(program({ op: 'softmax', x: z, y: z.sub(1, 11), m: 1, n: 11 })).toThrow(/only exact aliasing/);
    expect(program({ op: 'softmaxGrad', y: z, dy: t, out: t, m: 3, n: 4 })).not.toThrow();
    const gemm = { op: 'gemm', a: z, b: t, c: s, m: 4, n: 4, k: 3, transA: true } as const;
    expect(program({ ...gemm, epilogue: 'sgd' })).toThrow(/the sgd epilogue needs hyper/);
    expect(program({ ...gemm, epilogue: 'sgd', hyper: s.sub(8, 7) })).toThrow(/hyper .* has 7 elements, needs 8/);
    expect(program({ ...gemm, epilogue: 'sgd', lr: t } as AnyOp)).toThrow(/lr was replaced by hyper/);
    expect(program({ op: 'sgd', p: z, g: t, hyper: z.sub(4, 8), decay: true })).toThrow(/overlaps/);
    for (const b of [z, t, s]) one.free(b);
  });

  it('refuse to run once a buffer they use was freed', async () => {
    const x = one.alloc(4, 'x');
    const program = one.program([{ op: 'fill', dst: x, value: 1 }]);
    one.free(x);
    await expect(one.run(program)).rejects.toThrow(/'x' was freed/);
    program.dispose();
  });
});

describe('the worker pool', () => {
  // The last worker bumps DONE and then notifies; descheduled in between, its notify can land on the next
  // run's wait (seen once in about a million runs under load). A stray notify in the middle of a run stands
  // in for it here: the run must still end only when the workers have finished.
  it('a stray wake-up does not end a run early', async () => {
    const size = 512;
    const a = put(two, random(size * size, 1), 'a');
    const c = two.alloc(size * size, 'c');
    const d = two.alloc(size * size, 'd');
    const out = two.alloc(1, 'out');
    const ops: AnyOp[] = [
      { op: 'gemm', a, b: a, c, m: size, n: size, k: size },
      { op: 'gemm', a: c, b: a, c: d, m: size, n: size, k: size },
      { op: 'mseLoss', p: d, t: a, out, scale: 1 },
    ];
    const program = two.program(ops);
    const internals = two as unknown as { memory: WebAssembly.Memory; ctrl: number };
    const ctrl = new Int32Array(internals.memory.buffer, internals.ctrl, L.CTRL_WORDS);
    for (let i = 0; i < 5; i++) {
      two.f32(out)[0] = -7;
      const run = two.run(program);
      // Once the host waits (a macrotask later), wake it.
      await new Promise((resolve) => setTimeout(resolve, 1));
      Atomics.notify(ctrl, L.CTRL_DONE);
      await run;
      expect(two.f32(out)[0], `run ${i}`).not.toBe(-7);
    }
    program.dispose();
    for (const b of [a, c, d, out]) two.free(b);
  });
});
