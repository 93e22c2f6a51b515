// activation, activationBackward, biasGrad, mseLoss, mseGrad, softmax, crossEntropyLoss/Grad and
// sgdUpdate on WebGPU and on the wasm backend, against the CPU reference.
import { BACKENDS, expectGpuMatchesCpu, test } from './fixtures';

const SHAPES: [number, number][] = [
  [1, 1],
  [7, 13],
  [64, 64],
  [65, 129],
  [256, 512],
];
const KINDS = ['relu', 'sigmoid', 'tanh', 'linear'] as const;
const U = 2 ** -24;

// Each test walks every shape on one page: a new page pays for a device and pipeline compiles.
const each = async (f: (rows: number, cols: number, n: number) => Promise<void>) => {
  for (const [rows, cols] of SHAPES) await f(rows, cols, rows * cols);
};

// Row-wise ops: moderate logits, and logits of ±80 where a naive softmax overflows (exp(80) ≈ 5.5e34,
// and its square is past f32): the max-subtracted softmax and the log-sum-exp loss stay exact.
const ROW_SHAPES: [number, number][] = [
  [1, 1],
  [7, 13],
  [65, 10],
  [33, 129],
];
const RANGES = [
  [-4, 4],
  [-80, 80],
] as const;

// Every op on WebGPU and on the wasm backend, each against the CPU reference with the same tolerances.
for (const on of BACKENDS) {
  test.describe(on, () => {
    test.use({ on });

    test('activation and activationBackward', async ({ gpuPage }) => {
      await each(async (rows, cols, n) => {
        for (const kind of KINDS) {
          // Forward: one f32 op per element; the GPU's exp (sigmoid) is within a few ulp of the true value.
          await expectGpuMatchesCpu(
            gpuPage,
            `activation ${kind} ${rows}×${cols}`,
            'activation',
            [{ rows, cols, seed: 5, lo: -6, hi: 6 }],
            { kind },
            { rtol: 4e-6, atol: 4 * U },
            n,
          );
          // Backward: y in [0, 1) is a valid output of every kind; one or two f32 multiplies per element.
          await expectGpuMatchesCpu(
            gpuPage,
            `activationBackward ${kind} ${rows}×${cols}`,
            'activationBackward',
            [
              { rows, cols, seed: 6, lo: 0, hi: 1 },
              { rows, cols, seed: 7 },
            ],
            { kind },
            { rtol: 1e-6, atol: U },
            n,
          );
        }
      });
    });

    test('biasGrad', async ({ gpuPage }) => {
      await each(async (rows, cols) => {
        // A column sum of `rows` values in [-1, 1) in f32 (strided, then a tree) against f64:
        // the error is at most about rows·u·Σ|x| ≤ rows²·u.
        await expectGpuMatchesCpu(
          gpuPage,
          `biasGrad ${rows}×${cols}`,
          'biasGrad',
          [{ rows, cols, seed: 8 }],
          {},
          { rtol: 1e-6, atol: Math.max(rows * rows * U, U) },
          cols,
        );
      });
    });

    test('mseLoss and mseGrad', async ({ gpuPage }) => {
      await each(async (rows, cols, n) => {
        const inputs = [
          { rows, cols, seed: 9 },
          { rows, cols, seed: 10 },
        ];
        // n squares summed in f32 by strided partial sums and two tree levels; the sum is positive, so the
        // relative error stays near (n/256 + 16)·u at worst: 1e-5 covers n up to ~40,000·... with margin.
        await expectGpuMatchesCpu(
          gpuPage,
          `mseLoss ${rows}×${cols}`,
          'mseLoss',
          inputs,
          {},
          { rtol: 1e-5, atol: 0 },
          1,
        );
        // 2/n is rounded to f32 once, then a subtract and a multiply: a few ulp.
        await expectGpuMatchesCpu(
          gpuPage,
          `mseGrad ${rows}×${cols}`,
          'mseGrad',
          inputs,
          {},
          { rtol: 16 * U, atol: 0 },
          n,
        );
      });
    });

    test('sgdUpdate', async ({ gpuPage }) => {
      await each(async (rows, cols, n) => {
        // p - lr·g: the GPU rounds lr·g to f32 before subtracting; |p|, |lr·g| ≤ 1, so ≤ 2 ulp of 1.
        await expectGpuMatchesCpu(
          gpuPage,
          `sgdUpdate ${rows}×${cols}`,
          'sgdUpdate',
          [
            { rows, cols, seed: 11 },
            { rows, cols, seed: 12 },
          ],
          { learningRate: 0.1 },
          { rtol: 0, atol: 2 * 2 ** -23 },
          n,
        );
      });
    });

    test('softmax forward and backward', async ({ gpuPage }) => {
      for (const [rows, cols] of ROW_SHAPES) {
        for (const [lo, hi] of RANGES) {
          // exp within a few ulp, a row sum of `cols` terms: ~cols·u relative, 1e-5 with margin up to 129.
          await expectGpuMatchesCpu(
            gpuPage,
            `softmax ${rows}×${cols} in [${lo}, ${hi})`,
            'activation',
            [{ rows, cols, seed: 21, lo, hi }],
            { kind: 'softmax' },
            { rtol: 1e-5, atol: 1e-30 },
            rows * cols,
          );
        }
        // y a probability row, dy in [-1, 1): a dot product of `cols` terms then a multiply.
        await expectGpuMatchesCpu(
          gpuPage,
          `softmax backward ${rows}×${cols}`,
          'activationBackward',
          [
            { rows, cols, seed: 22, lo: 0, hi: 1 / cols },
            { rows, cols, seed: 23 },
          ],
          { kind: 'softmax' },
          { rtol: 1e-5, atol: cols * U },
          rows * cols,
        );
      }
    });

    test('crossEntropyLoss and crossEntropyGrad, finite for logits of ±80', async ({ gpuPage }) => {
      for (const [rows, cols] of ROW_SHAPES) {
        for (const [lo, hi] of RANGES) {
          // Soft targets in [0, 1): the op is defined for any rows; what a Network accepts is checked elsewhere.
          const inputs = [
            { rows, cols, seed: 24, lo, hi },
            { rows, cols, seed: 25, lo: 0, hi: 1 },
          ];
          const what = `${rows}×${cols} in [${lo}, ${hi})`;
          // Per row a log-sum-exp over `cols` and a sum of `cols` products, then a mean over rows, all in f32.
          await expectGpuMatchesCpu(
            gpuPage,
            `crossEntropyLoss ${what}`,
            'crossEntropyLoss',
            inputs,
            {},
            { rtol: 2e-5, atol: 0 },
            1,
          );
          // (p − t) / rows: the softmax's few ulp, then a subtract and a multiply.
          await expectGpuMatchesCpu(
            gpuPage,
            `crossEntropyGrad ${what}`,
            'crossEntropyGrad',
            inputs,
            {},
            { rtol: 1e-5, atol: U / rows },
            rows * cols,
          );
        }
      }
    });
  });
}
