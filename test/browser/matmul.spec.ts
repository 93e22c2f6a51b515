// matmul (all three forms, with and without fused bias + activation) against the CPU reference: on WebGPU
// and on the wasm backend through the public Backend.matmul, and for every GPU kernel variant an autotuner
// may pick.
import { BACKENDS, expect, expectGpuMatchesCpu, type InputSpec, test } from './fixtures';

type Shape = [number, number, number];
// M×K×N; the odd ones leave workgroups and vec4 loads part-filled.
const SHAPES: Shape[] = [
  [1, 1, 1],
  [7, 13, 5],
  [64, 64, 64],
  [65, 129, 33],
  [256, 512, 128],
];
// Plus one without epilogue (it is orthogonal to what these add): 4-aligned rows, so the vec4 path, with
// blocks overhanging C for the bigger variants; for the public path also a K that is not a multiple of 4
// (for Aᵀ·B, the K tail of the aligned path, which is the same code in every variant). The variants get
// K = 20, which needs no pipeline beyond the ones 64×64×64 compiles.
const RAGGED: Shape = [36, 19, 44];
const RAGGED_VARIANTS: Shape = [36, 20, 44];
const FORMS = [
  { name: 'A·B', transposeA: false, transposeB: false },
  { name: 'Aᵀ·B', transposeA: true, transposeB: false },
  { name: 'A·Bᵀ', transposeA: false, transposeB: true },
];
const EPILOGUES = [
  { name: 'plain' },
  { name: 'bias+relu', bias: true, activation: 'relu' },
  { name: 'bias+sigmoid', bias: true, activation: 'sigmoid' },
  { name: 'linear', activation: 'linear' },
];
// Each variant is its own set of pipelines (and the big ones take seconds to compile on SwiftShader), so
// variants are checked with the fused bias + sigmoid epilogue only, which runs every line of the block
// and epilogue code; every epilogue, the plain one included, goes through the public path.
const VARIANT_EPILOGUES = [EPILOGUES[2]];
// Keep in step with MATMUL_VARIANTS and DEFAULT_MATMUL_VARIANT in src/gpu/kernels/matmul.ts (checked
// below). The default is what the public path uses for M·N ≥ 128² (the harness turns autotuning off; r4x4
// below that), so it is tested there, with every epilogue — as r4x4 is on the smaller shapes.
const VARIANTS = ['r4x4', 'r16x16', 's64', 'sg32x32'];
// sg32x32 (matmul_sg.wgsl) packs one operand into a texture and loads the other as whole vec4s. It
// packs opB(B) unless M < N, when it packs opA(A) and computes Cᵀ instead ("swapped"), as long as the
// other operand's stored rows are a multiple of 4 long; else the default variant runs. These add its
// own edges, both ways round: M not a multiple of its 32 rows, N not of 4 (the texture's zero columns),
// and for Aᵀ·B a K that is not (the masked K tail).
const SUBGROUP_SHAPES: Record<string, Shape[]> = {
  A·B: [
    [68, 36, 40],
    [68, 36, 150],
    [4, 8, 3],
  ],
  Aᵀ·B: [
    [68, 37, 150],
    [36, 37, 152],
    [4, 9, 3],
  ],
  A·Bᵀ: [
    [68, 36, 150],
    [150, 36, 68],
    [4, 8, 3],
  ],
};
const DEFAULT_VARIANT = 'r16x16';

// Tolerance: inputs are uniform in [-1, 1). The GPU sums K f32 products in f32 (each group of four
// products, then the groups in order); the CPU sums in f64 and rounds once. Rounding error of an f32 sum of K terms is
// typically ~sqrt(K)·u·Σ|a·b| (u = 2^-24, Σ|a·b| ≈ K/4 here), so atol = K·sqrt(K)·u allows about 4× that;
// rtol 1e-6 covers the final rounding. Relu and sigmoid have slope ≤ 1, so the bound carries through.
const U = 2 ** -24;
const tol = (k: number) => ({ rtol: 1e-6, atol: Math.max(k * Math.sqrt(k) * U, 4 * U) });

/** Every shape with the given epilogues, and the ragged one with the first (no epilogue). */
function cases<E>(epilogues: E[], ragged: Shape): [Shape, E[]][] {
  return [...SHAPES.map((shape): [Shape, E[]] => [shape, epilogues]), [ragged, epilogues.slice(0, 1)]];
}

function inputsFor(form: (typeof FORMS)[number], m: number, k: number, n: number, bias?: boolean): InputSpec[] {
  const a = form.transposeA ? { rows: k, cols: m } : { rows: m, cols: k };
  const b = form.transposeB ? { rows: n, cols: k } : { rows: k, cols: n };
  const inputs: InputSpec[] = [
    { ...a, seed: m * 7 + 1 },
    { ...b, seed: n * 13 + 2 },
  ];
  if (bias) inputs.push({ rows: 1, cols: n, seed: 99 });
  return inputs;
}

// Tests in this file are independent pages, so they may share both workers.
test.describe.configure({ mode: 'parallel' });

// Shapes for the wasm backend's GEMM besides the ones above: K = 1, and over one tile (MC = 80 rows) and
// one K block (KC = 256), so packing, blocking and the 5×8 micro-kernel's ragged edges all run.
const WASM_SHAPES: Shape[] = [
  [7, 1, 13],
  [85, 300, 263],
];

// One test per form: each new page pays for a device and pipeline compiles, so shapes share a page. The
// same tests run on the wasm backend, with the same tolerances.
for (const on of BACKENDS) {
  test.describe(on, () => {
    test.use({ on });
    for (const form of FORMS) {
      test(`matmul ${form.name}, every shape and epilogue`, async ({ gpuPage }) => {
        const extra = on === 'wasm' ? WASM_SHAPES.map((s): [Shape, typeof EPILOGUES] => [s, EPILOGUES]) : [];
        for (const [[m, k, n], epilogues] of [...cases(EPILOGUES, RAGGED), ...extra]) {
          for (const ep of epilogues) {
            const opts = { transposeA: form.transposeA, transposeB: form.transposeB, activation: ep.activation };
            const inputs = inputsFor(form, m, k, n, ep.bias);
            await expectGpuMatchesCpu(
              gpuPage,
              `${on} ${form.name} ${m}×${k}×${n} ${ep.name}`,
              'matmul',
              inputs,
              opts,
              tol(k),
              m * n,
            );
          }
        }
      });
    }
  });
}

// Shapes big enough (M·N ≥ 256², K ≥ 64) for the public path's untuned choice to be sg32x32 where
// subgroups are 4 wide. Eager matmuls share one scratch texture, grown as needed: B copied into it (A·B,
// Aᵀ·B: rows of 256 floats), packed (A·Bᵀ), then A packed for a product with M < N, one after another.
test('public-path matmuls through the shared scratch texture, copied and packed in turn', async ({ gpuPage }) => {
  const shapes: [Shape, (typeof FORMS)[number]][] = [
    [[256, 64, 256], FORMS[0]],
    [[256, 64, 256], FORMS[2]],
    [[128, 96, 512], FORMS[0]],
    [[256, 68, 256], FORMS[1]],
  ];
  for (const [[m, k, n], form] of shapes) {
    const opts = { transposeA: form.transposeA, transposeB: form.transposeB };
    await expectGpuMatchesCpu(
      gpuPage,
      `${form.name} ${m}×${k}×${n}`,
      'matmul',
      inputsFor(form, m, k, n),
      opts,
      tol(k),
      m * n,
    );
  }
});

for (const variant of VARIANTS.filter((v) => v !== DEFAULT_VARIANT)) {
  for (const form of FORMS) {
    test(`matmul variant ${variant} ${form.name}, every shape, with bias+sigmoid`, async ({ gpuPage }) => {
      const subgroup = variant.startsWith('sg');
      if (subgroup) {
        const runs = await gpuPage.evaluate(() => window.T.subgroupMatmul());
        test.skip(!runs, 'this adapter has no 4-wide subgroups, so no tuner can pick sg32x32 here');
      }
      const shapes = cases(VARIANT_EPILOGUES, RAGGED_VARIANTS);
      if (subgroup)
        shapes.push(
          ...SUBGROUP_SHAPES[form.name].map((s): [Shape, typeof VARIANT_EPILOGUES] => [s, VARIANT_EPILOGUES]),
        );
      const seen = new Set<boolean>();
      for (const [[m, k, n], epilogues] of shapes) {
        // Where sg32x32 must fall back (neither operand's stored rows a multiple of 4 long), it runs the
        // default variant, tested above; skipping those saves their pipeline compiles.
        const aRows = (form.transposeA ? m : k) % 4 === 0;
        const bRows = (form.transposeB ? k : n) % 4 === 0;
        const takes = aRows || (m < n && bRows);
        if (subgroup && !takes) continue;
        for (const ep of epilogues) {
          const what = `${variant} ${form.name} ${m}×${k}×${n} ${ep.name}`;
          const opts = {
            transposeA: form.transposeA,
            transposeB: form.transposeB,
            activation: ep.activation as 'sigmoid' | undefined,
          };
          const inputs = inputsFor(form, m, k, n, ep.bias);
          const r = await gpuPage.evaluate(
            ({ variant, m, k, n, inputs, opts, tol }) => window.T.matmulVariant(variant, m, k, n, inputs, opts, tol),
            { variant, m, k, n, inputs, opts, tol: tol(k) },
          );
          expect(r.n, `${what}: output size`).toBe(m * n);
          expect(r.problem, `${what}: ${r.problem ?? ''}`).toBeNull();
          // The subgroup kernel must really run wherever one operand's stored rows are a multiple of 4 long.
          if (subgroup) {
            expect(r.kernel, `${what}: kernel`).toBe('matmul_sg');
            seen.add(r.swapped);
          }
        }
      }
      if (subgroup) expect([...seen].sort(), 'sg32x32 ran both ways round').toEqual([false, true]);
    });
  }
}

test('the variants tested here are exactly the ones an autotuner may pick, and the default', async ({ gpuPage }) => {
  const { names, fallback } = await gpuPage.evaluate(() => ({
    names: Object.keys(window.T.matmulVariants),
    fallback: window.T.matmulDefault,
  }));
  expect(names.sort()).toEqual([...VARIANTS].sort());
  expect(fallback).toBe(DEFAULT_VARIANT);
  // The public-path tests above stand in for the default variant only while nothing tunes.
  const tuning = await gpuPage.evaluate(async () => (await window.T.gpuBackend()).tuning.enabled);
  expect(tuning, 'the harness backend must not autotune').toBe(false);
});

test('matmul rejects mismatched shapes before touching the GPU', async ({ gpuPage }) => {
  const message = await gpuPage.evaluate(async () => {
    const b = await window.T.gpuBackend();
    const x = b.matrix(4, 3);
    const y = b.matrix(2, 5);
    try {
      b.matmul(x, y);
      return 'no error';
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    } finally {
      x.dispose();
      y.dispose();
    }
  });
  expect(message).toBe('InvalidArgumentError: matmul: a is 4×3 but b is 2×5 (a.cols must equal b.rows)');
});
