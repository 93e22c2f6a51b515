// The wasm engine's GEMM benchmark, run the same way in Node (bench/wasm-gemm.ts loads it through Vite)
// and in a browser page (bench/wasm-gemm.html): each form of each shape is run once to warm up (the
// kernels reach V8's optimising tier), then `reps` times; the figure is the median GFLOP/s. verify()
// first checks, where the figures are taken, that the build this engine loaded computes the right thing.
import { WasmEngine } from '../src/wasm/engine';
import type { AnyOp } from '../src/wasm/program';

export interface GemmCase {
  m: number;
  n: number;
  k: number;
  form: 'A·B' | 'Aᵀ·B' | 'A·Bᵀ';
}

export interface GemmResult extends GemmCase {
  threads: number;
  relaxedSimd: boolean;
  /** Median GFLOP/s, and all repetitions. */
  gflops: number;
  all: number[];
}

export const CASES: GemmCase[] = [1024, 256].flatMap((m) =>
  (['A·B', 'Aᵀ·B', 'A·Bᵀ'] as const).map((form) => ({ m, n: 1024, k: 1024, form })),
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function measure(options: { threads: number; reps: number; cases?: GemmCase[] }): Promise<GemmResult[]> {
  const engine = await WasmEngine.create({ threads: options.threads });
  const results: GemmResult[] = [];
  try {
    for (const cs of options.cases ?? CASES) {
      const { m, n, k, form } = cs;
      const a = engine.alloc(m * k, 'a');
      const b = engine.alloc(k * n, 'b');
      const c = engine.alloc(m * n, 'c');
      engine.f32(a).set(Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)));
      engine.f32(b).set(Float32Array.from({ length: k * n }, (_, i) => Math.cos(i)));
      const program = engine.program([
        { op: 'gemm', a, b, c, m, n, k, transA: form === 'Aᵀ·B', transB: form === 'A·Bᵀ' },
      ]);
      await engine.run(program);
      const all: number[] = [];
      for (let r = 0; r < options.reps; r++) {
        const t0 = performance.now();
        await engine.run(program);
        all.push((2 * m * n * k) / ((performance.now() - t0) * 1e6));
      }
      results.push({ ...cs, threads: engine.threads, relaxedSimd: engine.relaxedSimd, gflops: median(all), all });
      program.dispose();
      for (const x of [a, b, c]) engine.free(x);
    }
  } finally {
    engine.destroy();
  }
  return results;
}

/**
 * Checks a ragged GEMM in every form, with a relu + bias epilogue, against f64 sums (error within
 * k·u·Σ|a·b|), and 1 thread against `threads` bit for bit. Returns what failed, or an empty list.
 */
export async function verify(threads: number): Promise<string[]> {
  const [m, n, k] = [67, 133, 257];
  const failures: string[] = [];
  const outputs: Float32Array[][] = [];
  for (const count of [1, threads]) {
    const engine = await WasmEngine.create({ threads: count });
    const a = engine.alloc(m * k, 'a');
    const b = engine.alloc(k * n, 'b');
    const bias = engine.alloc(n, 'bias');
    engine.f32(a).set(Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37)));
    engine.f32(b).set(Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.11)));
    engine.f32(bias).set(Float32Array.from({ length: n }, (_, i) => (i % 7) / 7 - 0.5));
    const forms = [
      [false, false],
      [true, false],
      [false, true],
    ] as const;
    const cs = forms.map(() => engine.alloc(m * n, 'c'));
    await engine.runOps(
      forms.map(([transA, transB], i) => ({
        op: 'gemm' as const,
        a,
        b,
        c: cs[i],
        m,
        n,
        k,
        transA,
        transB,
        bias,
        activation: 'relu' as const,
      })),
    );
    outputs.push(cs.map((c) => engine.f32(c).slice()));
    if (count === 1) {
      const [A, B, bv] = [engine.f32(a), engine.f32(b), engine.f32(bias)];
      forms.forEach(([transA, transB], f) => {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0;
            let mag = 0;
            for (let p = 0; p < k; p++) {
              const x = (transA ? A[p * m + i] : A[i * k + p]) * (transB ? B[j * k + p] : B[p * n + j]);
              sum += x;
              mag += Math.abs(x);
            }
            const want = Math.max(0, sum + bv[j]);
            const got = outputs[0][f][i * n + j];
            if (!(Math.abs(got - want) <= k * 2 ** -24 * mag + 1e-6))
              failures.push(`form ${f} (${i}, ${j}): ${got} vs ${want}`);
          }
        }
      });
    }
    engine.destroy();
  }
  outputs[1].forEach((c, f) => {
    if (c.some((v, i) => !Object.is(v, outputs[0][f][i]))) failures.push(`form ${f}: ${threads} threads differ from 1`);
  });
  return failures.slice(0, 10);
}

/**
 * Milliseconds per SGD step of a 784→1024→1024→10 MLP (relu, relu, linear) at batch 256 as one engine
 * program: forward with fused bias + activation, MSE loss and gradient, dZ·Wᵀ fused with f′, SGD fused
 * into every dW, bias gradients and their updates. Median of `reps` after a warm-up step.
 */
export async function measureStep(options: { threads: number; reps: number }): Promise<{ ms: number; all: number[] }> {
  const engine = await WasmEngine.create({ threads: options.threads });
  const batch = 256;
  const sizes = [784, 1024, 1024, 10];
  const alloc = (n: number, label: string, fill = 0) => {
    const b = engine.alloc(n, label);
    engine.f32(b).set(Float32Array.from({ length: n }, (_, i) => fill * Math.sin(i)));
    return b;
  };
  const x = alloc(batch * sizes[0], 'x', 1);
  const y = alloc(batch * sizes[3], 'y', 1);
  const lr = alloc(1, 'lr');
  engine.f32(lr)[0] = 0.01;
  const w = sizes.slice(1).map((n, l) => alloc(sizes[l] * n, `w${l}`, 0.05));
  const bias = sizes.slice(1).map((n, l) => alloc(n, `b${l}`));
  const act = sizes.slice(1).map((n, l) => alloc(batch * n, `a${l}`));
  const dz = sizes.slice(1).map((n, l) => alloc(batch * n, `dz${l}`));
  const db = sizes.slice(1).map((n, l) => alloc(n, `db${l}`));
  const loss = alloc(1, 'loss');
  const hyper = alloc(8, 'hyper');
  engine.f32(hyper)[0] = 0.01;
  const f = (l: number) => (l === 2 ? 'linear' : 'relu') as 'linear' | 'relu';
  const ops: AnyOp[] = [];
  sizes.slice(1).forEach((n, l) => {
    const a = l === 0 ? x : act[l - 1];
    ops.push({ op: 'gemm', a, b: w[l], c: act[l], m: batch, n, k: sizes[l], bias: bias[l], activation: f(l) });
  });
  const out = batch * sizes[3];
  ops.push({ op: 'mseLoss', p: act[2], t: y, out: loss, scale: 1 / out });
  ops.push({ op: 'mseGrad', p: act[2], t: y, g: dz[2], scale: 2 / out, activation: 'linear' });
  for (let l = 2; l >= 0; l--) {
    const [k, n] = [sizes[l], sizes[l + 1]];
    if (l > 0) {
      const prev = { aux: act[l - 1], activation: f(l - 1) };
      ops.push({
        op: 'gemm',
        a: dz[l],
        b: w[l],
        c: dz[l - 1],
        m: batch,
        n: k,
        k: n,
        transB: true,
        epilogue: 'grad',
        ...prev,
      });
    }
    ops.push({ op: 'biasGrad', dz: dz[l], out: db[l], m: batch, n });
    const a = l === 0 ? x : act[l - 1];
    ops.push({ op: 'gemm', a, b: dz[l], c: w[l], m: k, n, k: batch, transA: true, epilogue: 'sgd', hyper });
    ops.push({ op: 'sgd', p: bias[l], g: db[l], hyper });
  }
  const program = engine.program(ops, 'step');
  await engine.run(program);
  const all: number[] = [];
  for (let r = 0; r < options.reps; r++) {
    const t0 = performance.now();
    await engine.run(program);
    all.push(performance.now() - t0);
  }
  engine.destroy();
  return { ms: median(all), all };
}
