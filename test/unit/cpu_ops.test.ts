// Every CPU backend op on small cases whose answers were worked out by hand (the expected numbers are
// literals, not recomputed by the code under test). The CPU backend is the reference the GPU kernels are
// checked against, so these tests pin it to DESIGN.md's math.
import { beforeEach, describe, expect, it } from 'vitest';
import { createBackend, type Backend, type Matrix } from '../../src/index';
import { allclose, type Tolerance } from '../allclose';

// Results are stored as f32: a hand-computed value like 2.95 or 1/3 is off by at most half an f32 ulp
// (relative 6e-8), and every sum here has at most 3 terms, so rtol 1e-6 is loose yet still catches any
// wrong formula (those are off by O(1)).
const F32: Tolerance = { rtol: 1e-6, atol: 1e-7 };

let cpu: Backend;
beforeEach(async () => {
  cpu = await createBackend('cpu');
});

const m = (rows: number, cols: number, values: number[]): Matrix => cpu.matrix(rows, cols, Float32Array.from(values));

async function expectMatrix(actual: Matrix, rows: number, cols: number, expected: number[], tol = F32): Promise<void> {
  expect([actual.rows, actual.cols]).toEqual([rows, cols]);
  expect(allclose(await actual.read(), expected, tol)).toBeNull();
}

describe('matrix', () => {
  it('copies the data it is given instead of aliasing it', async () => {
    const data = Float32Array.of(1, 2, 3, 4, 5, 6);
    const x = cpu.matrix(2, 3, data);
    data[0] = 100;
    await expectMatrix(x, 2, 3, [1, 2, 3, 4, 5, 6]);
  });

  it('read() returns a copy: changing it does not change the matrix', async () => {
    const x = m(1, 2, [7, 8]);
    const first = await x.read();
    first[1] = -1;
    await expectMatrix(x, 1, 2, [7, 8]);
  });

  it('starts at zero when no data is given', async () => {
    await expectMatrix(cpu.matrix(3, 2), 3, 2, [0, 0, 0, 0, 0, 0]);
  });
});

describe('matmul', () => {
  // A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12]
  // A·B = [1·7+2·9+3·11, 1·8+2·10+3·12; 4·7+5·9+6·11, 4·8+5·10+6·12] = [58 64; 139 154]
  const A = [1, 2, 3, 4, 5, 6];
  const At = [1, 4, 2, 5, 3, 6]; // Aᵀ stored 3×2
  const B = [7, 8, 9, 10, 11, 12];
  const Bt = [7, 9, 11, 8, 10, 12]; // Bᵀ stored 2×3
  const AB = [58, 64, 139, 154];

  it('computes A·B', async () => {
    await expectMatrix(cpu.matmul(m(2, 3, A), m(3, 2, B)), 2, 2, AB);
  });

  it('computes Aᵀ·B with a stored K×M', async () => {
    await expectMatrix(cpu.matmul(m(3, 2, At), m(3, 2, B), { transposeA: true }), 2, 2, AB);
  });

  it('computes A·Bᵀ with b stored N×K', async () => {
    await expectMatrix(cpu.matmul(m(2, 3, A), m(2, 3, Bt), { transposeB: true }), 2, 2, AB);
  });

  it('computes Aᵀ·Bᵀ with both transposed', async () => {
    await expectMatrix(cpu.matmul(m(3, 2, At), m(2, 3, Bt), { transposeA: true, transposeB: true }), 2, 2, AB);
  });

  it('gives a non-square result the right shape: [1 2]ᵀ·[3 4 5] is 2×3', async () => {
    // transposeA of a 1×2 row gives a 2×1 column; times a 1×3 row is the outer product.
    await expectMatrix(
      cpu.matmul(m(1, 2, [1, 2]), m(1, 3, [3, 4, 5]), { transposeA: true }),
      2,
      3,
      [3, 4, 5, 6, 8, 10],
    );
  });

  it('handles 1×1', async () => {
    await expectMatrix(cpu.matmul(m(1, 1, [3]), m(1, 1, [-2])), 1, 1, [-6]);
  });

  it('adds a 1×N bias to every row', async () => {
    // [58 64; 139 154] + [0.5 -100] = [58.5 -36; 139.5 54]
    const out = cpu.matmul(m(2, 3, A), m(3, 2, B), { bias: m(1, 2, [0.5, -100]) });
    await expectMatrix(out, 2, 2, [58.5, -36, 139.5, 54]);
  });

  it('applies relu after the bias', async () => {
    // [58 64; 139 154] + [-60 -100] = [-2 -36; 79 54] -> relu -> [0 0; 79 54]
    const out = cpu.matmul(m(2, 3, A), m(3, 2, B), { bias: m(1, 2, [-60, -100]), activation: 'relu' });
    await expectMatrix(out, 2, 2, [0, 0, 79, 54]);
  });

  it('applies sigmoid', async () => {
    // [1 2]·[1 -1 0.5; -0.5 1.5 -1.25] = [0 2 -2]; sigmoid(0) = 0.5, sigmoid(±2) = 1/(1+e^∓2)
    const out = cpu.matmul(m(1, 2, [1, 2]), m(2, 3, [1, -1, 0.5, -0.5, 1.5, -1.25]), { activation: 'sigmoid' });
    await expectMatrix(out, 1, 3, [0.5, 0.8807970779778823, 0.11920292202211755]);
  });

  it('treats linear as no activation', async () => {
    await expectMatrix(cpu.matmul(m(2, 3, A), m(3, 2, B), { activation: 'linear' }), 2, 2, AB);
  });

  it('does not change its inputs', async () => {
    const a = m(2, 3, A);
    const b = m(3, 2, B);
    cpu.matmul(a, b, { activation: 'relu' });
    await expectMatrix(a, 2, 3, A);
    await expectMatrix(b, 3, 2, B);
  });
});

describe('activation', () => {
  it('relu clamps negatives to 0', async () => {
    const x = m(2, 3, [-2, -0.5, 0, 0.5, 3, 0.001]);
    await expectMatrix(cpu.activation('relu', x), 2, 3, [0, 0, 0, 0.5, 3, 0.001]);
  });

  it('relu of NaN is 0, as on the wasm backend (z > 0 ? z : 0, not Math.max)', async () => {
    await expectMatrix(cpu.activation('relu', m(1, 2, [Number.NaN, -1])), 1, 2, [0, 0]);
  });

  it('sigmoid matches 1/(1+e^-z), saturating without NaN', async () => {
    // sigmoid(ln 3) = 1/(1 + 1/3) = 0.75; at ±1000 e^∓z overflows to ∞ or 0, giving 0 and 1.
    const x = m(1, 6, [0, 2, -2, Math.log(3), 1000, -1000]);
    await expectMatrix(cpu.activation('sigmoid', x), 1, 6, [0.5, 0.8807970779778823, 0.11920292202211755, 0.75, 1, 0]);
  });

  it('linear is the identity', async () => {
    await expectMatrix(cpu.activation('linear', m(2, 1, [-3.5, 7])), 2, 1, [-3.5, 7]);
  });
});

describe("activationBackward (f' in terms of y = f(z))", () => {
  it('relu passes dy where y > 0 and blocks it where y = 0', async () => {
    const y = m(2, 2, [0, 0.5, 2, 0]);
    const dy = m(2, 2, [3, -4, 5, 6]);
    await expectMatrix(cpu.activationBackward('relu', y, dy), 2, 2, [0, -4, 5, 0]);
  });

  it('sigmoid multiplies dy by y(1 - y)', async () => {
    // y(1-y) = [0.25, 0.1875, 0.09]; times dy = [2, 4, -10] gives [0.5, 0.75, -0.9]
    const y = m(1, 3, [0.5, 0.25, 0.9]);
    const dy = m(1, 3, [2, 4, -10]);
    await expectMatrix(cpu.activationBackward('sigmoid', y, dy), 1, 3, [0.5, 0.75, -0.9]);
  });

  it('linear passes dy through whatever y is', async () => {
    const y = m(1, 3, [-1, 0, 7]);
    const dy = m(1, 3, [3, -2, 0.25]);
    await expectMatrix(cpu.activationBackward('linear', y, dy), 1, 3, [3, -2, 0.25]);
  });
});

describe('biasGrad', () => {
  it('sums each column over the batch into a 1×cols row', async () => {
    // columns [1 3 5] and [2 4 -6]
    await expectMatrix(cpu.biasGrad(m(3, 2, [1, 2, 3, 4, 5, -6])), 1, 2, [9, 0]);
  });

  it('returns a single row unchanged', async () => {
    await expectMatrix(cpu.biasGrad(m(1, 3, [0.5, -1, 2])), 1, 3, [0.5, -1, 2]);
  });
});

describe('mseLoss', () => {
  it('is the mean of squared differences over all elements', async () => {
    // diffs [1 0 -2 3] -> squares 1 + 0 + 4 + 9 = 14 -> 14 / 4 = 3.5
    const loss = cpu.mseLoss(m(2, 2, [1, 2, 3, 4]), m(2, 2, [0, 2, 5, 1]));
    await expectMatrix(loss, 1, 1, [3.5]);
  });

  it('is 0 when pred equals target', async () => {
    await expectMatrix(cpu.mseLoss(m(1, 2, [0.3, -7]), m(1, 2, [0.3, -7])), 1, 1, [0]);
  });
});

describe('mseGrad', () => {
  it('is the exact gradient 2(p - t)/(rows·cols)', async () => {
    // diffs [1 0 -2 3], times 2/4 -> [0.5 0 -1 1.5]
    const grad = cpu.mseGrad(m(2, 2, [1, 2, 3, 4]), m(2, 2, [0, 2, 5, 1]));
    await expectMatrix(grad, 2, 2, [0.5, 0, -1, 1.5]);
  });

  it('divides by every element, not just the batch (1×3)', async () => {
    // diffs [0.5 -0.5 0], times 2/3 -> [1/3 -1/3 0]
    const grad = cpu.mseGrad(m(1, 3, [0.5, 0.5, 0.5]), m(1, 3, [0, 1, 0.5]));
    await expectMatrix(grad, 1, 3, [0.3333333333, -0.3333333333, 0]);
  });
});

describe('sgdUpdate', () => {
  it('updates param in place: param -= lr·grad', async () => {
    // [1 -2 3] - 0.1·[10 -10 0.5] = [0 -1 2.95]
    const param = m(1, 3, [1, -2, 3]);
    const grad = m(1, 3, [10, -10, 0.5]);
    expect(cpu.sgdUpdate(param, grad, 0.1)).toBeUndefined();
    await expectMatrix(param, 1, 3, [0, -1, 2.95]);
    await expectMatrix(grad, 1, 3, [10, -10, 0.5]);
  });

  it('accumulates over repeated steps', async () => {
    // 2 - 0.5·1 - 0.5·1 = 1 in each element
    const param = m(2, 1, [2, 2]);
    const grad = m(2, 1, [1, 1]);
    cpu.sgdUpdate(param, grad, 0.5);
    cpu.sgdUpdate(param, grad, 0.5);
    await expectMatrix(param, 2, 1, [1, 1]);
  });
});
