// The wasm engine's GEMM benchmark, run the same way in Node (bench/wasm-gemm.ts loads it through Vite)
// and in a browser page (bench/wasm-gemm.html): each form of each shape is run once to warm up (the
// kernels reach V8's optimising tier), then `reps` times; the figure is the median GFLOP/s. verify()
// first checks, where the figures are taken, that the build this engine loaded computes the right thing.
import { WasmEngine } from '../src/wasm/engine';

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
