// matmul (all three forms, with and without fused bias + activation) against the CPU reference: on WebGPU
// and on the wasm backend through the public Backend.matmul, and for every GPU kernel variant an autotuner
// may pick.
import type { MatmulTile } from '../../src/gpu/kernels/matmul_args';
import { DEFAULT_MATMUL_VARIANT, MATMUL_VARIANTS } from '../../src/gpu/matmul_variants';
import { BACKENDS, expect, expectGpuMatchesCpu, type InputSpec, test } from './fixtures';
import type { FusedEpilogue } from './helpers/ops';

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
interface Epilogue {
  name: string;
  bias?: boolean;
  activation?: 'relu' | 'sigmoid' | 'tanh' | 'linear';
  /** A training epilogue, with its extra M×N input. */
  fused?: (m: number, n: number) => FusedEpilogue;
}
const EPILOGUES: Epilogue[] = [
  { name: 'plain' },
  { name: 'bias+relu', bias: true, activation: 'relu' },
  { name: 'bias+sigmoid', bias: true, activation: 'sigmoid' },
  { name: 'linear', activation: 'linear' },
];
// The stores a variant may run, one of each kind: the forward one with a bias and an activation (tanh;
// the others differ only in activate4, which every kernel shares), and the three training epilogues.
// Y for the gradient is a sigmoid output (in (0, 1)); C starts random.
const FUSED_EPILOGUES: Epilogue[] = [
  { name: 'bias+tanh', bias: true, activation: 'tanh' },
  {
    name: "dZ = P ⊙ sigmoid'(Y)",
    fused: (m, n) => ({ kind: 'grad', activation: 'sigmoid', y: { rows: m, cols: n, seed: 5, lo: 0, hi: 1 } }),
  },
  {
    name: 'SGD with weight decay',
    fused: (m, n) => ({ kind: 'sgd', rate: 0.5, decay: 0.1, c: { rows: m, cols: n, seed: 6 } }),
  },
  { name: 'C += P', fused: (m, n) => ({ kind: 'add', c: { rows: m, cols: n, seed: 7 } }) },
];
/**
 * The fused epilogue of case c of variant vi: consecutive cases take consecutive epilogues, from an
 * offset that shifts with the variant, so every variant runs every epilogue and, over the variants,
 * each form meets each epilogue. (The store runs after the loads; none of its lines depends on the form.)
 */
const fusedSlot = (vi: number, c: number) => FUSED_EPILOGUES[(vi + c) % FUSED_EPILOGUES.length];

const VARIANT_EPILOGUES = [EPILOGUES[2]];
// Keep in step with MATMUL_VARIANTS and DEFAULT_MATMUL_VARIANT in src/gpu/matmul_variants.ts (checked
// below). The default is what the public path uses for M·N ≥ 128² on SwiftShader (the harness turns
// autotuning off; r4x4 below that), so it is tested there, with every epilogue — as r4x4 is on the
// smaller shapes.
const REGISTER_VARIANTS = ['r4x4', 'r16x16', 'sg32x32'];
const TILED_VARIANTS = ['t32', 't32k', 't64', 't64x128', 't128'];
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

/** One matmul with an explicit variant in the page, checked against the CPU; returns what ran. */
async function checkVariant(
  page: import('@playwright/test').Page,
  variant: string | MatmulTile,
  [m, k, n]: Shape,
  form: (typeof FORMS)[number],
  ep: Epilogue,
) {
  const name = typeof variant === 'string' ? variant : JSON.stringify(variant);
  const what = `${name} ${form.name} ${m}×${k}×${n} ${ep.name}`;
  const opts = { transposeA: form.transposeA, transposeB: form.transposeB, activation: ep.activation };
  const inputs = inputsFor(form, m, k, n, ep.bias);
  const fused = ep.fused?.(m, n);
  const r = await page.evaluate(
    ({ variant, m, k, n, inputs, opts, tol, fused }) =>
      window.T.matmulVariant(variant, m, k, n, inputs, opts, tol, fused),
    { variant, m, k, n, inputs, opts, tol: tol(k), fused },
  );
  expect(r.n, `${what}: output size`).toBe(m * n);
  expect(r.problem, `${what}: ${r.problem ?? ''}`).toBeNull();
  return { ...r, what };
}

// The register and subgroup variants, one test per form: every shape with bias + sigmoid (but the
// default, which the public path tests above), and the ragged shape with two of the fused epilogues
// (fusedSlot), which rotate over forms and variants.
for (const [vi, variant] of REGISTER_VARIANTS.entries()) {
  for (const [fi, form] of FORMS.entries()) {
    test(`matmul variant ${variant} ${form.name}: shapes with bias+sigmoid, fused epilogues`, async ({ gpuPage }) => {
      const subgroup = variant.startsWith('sg');
      if (subgroup) {
        const runs = await gpuPage.evaluate(() => window.T.subgroupMatmul());
        test.skip(!runs, 'this adapter has no 4-wide subgroups, so no tuner can pick sg32x32 here');
      }
      const shapes = variant === DEFAULT_VARIANT ? [] : cases(VARIANT_EPILOGUES, RAGGED_VARIANTS);
      if (subgroup) shapes.push(...SUBGROUP_SHAPES[form.name].map((s): [Shape, Epilogue[]] => [s, VARIANT_EPILOGUES]));
      shapes.push(...[0, 1].map((si): [Shape, Epilogue[]] => [RAGGED_VARIANTS, [fusedSlot(vi, 2 * fi + si)]]));
      const seen = new Set<boolean>();
      for (const [[m, k, n], epilogues] of shapes) {
        // Where sg32x32 must fall back (neither operand's stored rows a multiple of 4 long), it runs the
        // default variant, tested above; skipping those saves their pipeline compiles.
        const aRows = (form.transposeA ? m : k) % 4 === 0;
        const bRows = (form.transposeB ? k : n) % 4 === 0;
        const takes = aRows || (m < n && bRows);
        if (subgroup && !takes) continue;
        for (const ep of epilogues) {
          const r = await checkVariant(gpuPage, variant, [m, k, n], form, ep);
          // The subgroup kernel must really run wherever one operand's stored rows are a multiple of 4 long.
          if (subgroup) {
            expect(r.kernel, `${r.what}: kernel`).toBe('matmul_sg');
            seen.add(r.swapped);
          }
        }
      }
      if (subgroup) expect([...seen].sort(), 'sg32x32 ran both ways round').toEqual([false, true]);
    });
  }
}

// The tiled variants (one kernel, matmul_tiled.wgsl), one test each: four products, which take the
// three forms and the four fused epilogues, on shapes one block plus a ragged row or four columns more
// than the variant's block, so a workgroup runs the bounds-free interior loads and the others the
// clamped edge loads, over two or three slabs (double buffering), with K a multiple of the slab depth
// or not (the masked tail). t32k is made to split K (3 slices: with these K, 2 whole ones; or 3 with a
// part-filled last one). Shapes whose rows are not whole vec4s run the r4x4 register tile instead.
for (const [vi, variant] of TILED_VARIANTS.entries()) {
  test(`matmul variant ${variant}: every form, interior and edge blocks, every fused epilogue`, async ({ gpuPage }) => {
    const base = MATMUL_VARIANTS[variant];
    const tile: MatmulTile = base.splitK ? { ...base, splitK: 3 } : base;
    const kt = tile.kt as number;
    for (let c = 0; c < FUSED_EPILOGUES.length; c++) {
      const form = FORMS[c % FORMS.length];
      // Aᵀ·B reads A's stored rows (M long) as vec4s: M stays a multiple of 4 there.
      const m = tile.wgY * tile.tm + (form.transposeA ? 4 : 3);
      const shape: Shape = [m, 2 * kt + 4 * (c % 2), tile.wgX * tile.tn + 4];
      const r = await checkVariant(gpuPage, tile, shape, form, fusedSlot(vi, c));
      expect(r.kernel, `${r.what}: kernel`).toBe('matmul_tiled');
      expect(r.dispatches, `${r.what}: dispatches (split-K adds the sum)`).toBe(base.splitK ? 2 : 1);
    }
    const r = await checkVariant(gpuPage, variant, [7, 13, 5], FORMS[0], VARIANT_EPILOGUES[0]);
    expect(r.kernel, `${r.what}: kernel`).toBe('matmul');
  });
}

test('the variants tested here are all there are, and the default is the one the public path uses', async ({
  gpuPage,
}) => {
  expect(Object.keys(MATMUL_VARIANTS).sort()).toEqual([...REGISTER_VARIANTS, ...TILED_VARIANTS].sort());
  expect(DEFAULT_MATMUL_VARIANT).toBe(DEFAULT_VARIANT);
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
