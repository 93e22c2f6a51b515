// GPU matmul (all three forms, with and without fused bias + activation) against the CPU reference.
import { test, expect, expectGpuMatchesCpu, type InputSpec } from './fixtures';

// M×K×N; the odd ones leave workgroups and vec4 loads part-filled.
const SHAPES: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [64, 64, 64], [65, 129, 33], [256, 512, 128]];
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

// Tolerance: inputs are uniform in [-1, 1). The GPU sums K f32 products in f32 (four interleaved
// partial sums); the CPU sums in f64 and rounds once. Rounding error of an f32 sum of K terms is
// typically ~sqrt(K)·u·Σ|a·b| (u = 2^-24, Σ|a·b| ≈ K/4 here), so atol = K·sqrt(K)·u allows about 4× that;
// rtol 1e-6 covers the final rounding. Relu and sigmoid have slope ≤ 1, so the bound carries through.
const U = 2 ** -24;
const tol = (k: number) => ({ rtol: 1e-6, atol: Math.max(k * Math.sqrt(k) * U, 4 * U) });

// One test per form: each new page pays for a device and pipeline compiles, so shapes share a page.
for (const form of FORMS) {
  test(`matmul ${form.name}, every shape and epilogue`, async ({ gpuPage }) => {
    for (const [m, k, n] of SHAPES) {
      for (const ep of EPILOGUES) {
        const a = form.transposeA ? { rows: k, cols: m } : { rows: m, cols: k };
        const b = form.transposeB ? { rows: n, cols: k } : { rows: k, cols: n };
        const inputs: InputSpec[] = [{ ...a, seed: m * 7 + 1 }, { ...b, seed: n * 13 + 2 }];
        if (ep.bias) inputs.push({ rows: 1, cols: n, seed: 99 });
        const opts = { transposeA: form.transposeA, transposeB: form.transposeB, activation: ep.activation };
        await expectGpuMatchesCpu(gpuPage, `${form.name} ${m}×${k}×${n} ${ep.name}`, 'matmul', inputs, opts, tol(k), m * n);
      }
    }
  });
}

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
