// The wasm engine's GEMM benchmark, run the same way in Node (bench/wasm-gemm.ts loads it through Vite)
// and in a browser page (bench/wasm-gemm.html): each form of each shape is run once to warm up (the
// kernels reach V8's optimising tier), then `reps` times; the figure is the median GFLOP/s.
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
