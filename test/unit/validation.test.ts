// Argument, shape and lifetime validation of the CPU backend and createBackend. Each bad call must throw
// the right error class with a message that names the operation, the value and the rule (STYLE.md §7),
// and must change nothing.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  BackpropError,
  DisposedError,
  InvalidArgumentError,
  WebGpuUnavailableError,
  createBackend,
  type Backend,
  type Matrix,
} from '../../src/index';

/** Runs fn, which must throw an instance of `cls` whose message is exactly `message`. */
function expectThrow(fn: () => unknown, cls: new (...args: never[]) => Error, message: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(cls);
  expect(caught).toBeInstanceOf(BackpropError);
  expect((caught as Error).message).toBe(message);
  expect((caught as Error).name).toBe(cls.name);
}

let cpu: Backend;
beforeEach(async () => {
  cpu = await createBackend('cpu');
});

const m = (rows: number, cols: number, fill = 1): Matrix =>
  cpu.matrix(rows, cols, new Float32Array(rows * cols).fill(fill));

describe('matrix', () => {
  it.each([
    [0, '0'],
    [-1, '-1'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
    [Infinity, 'Infinity'],
    ['2', '"2"'],
  ])('rejects rows = %s', (rows, shown) => {
    expectThrow(
      () => cpu.matrix(rows as number, 2),
      InvalidArgumentError,
      `matrix: rows is ${shown} (expected a positive integer)`,
    );
  });

  it('rejects cols = 0', () => {
    expectThrow(() => cpu.matrix(2, 0), InvalidArgumentError, 'matrix: cols is 0 (expected a positive integer)');
  });

  it('rejects data of the wrong length, in either direction', () => {
    expectThrow(
      () => cpu.matrix(2, 3, new Float32Array(5)),
      InvalidArgumentError,
      'matrix: data is Float32Array(length 5) (expected length rows·cols = 2·3 = 6)',
    );
    expectThrow(
      () => cpu.matrix(2, 3, new Float32Array(7)),
      InvalidArgumentError,
      'matrix: data is Float32Array(length 7) (expected length rows·cols = 2·3 = 6)',
    );
  });

  it('rejects data that is not a Float32Array', () => {
    expectThrow(
      () => cpu.matrix(2, 3, new Float64Array(6) as never),
      InvalidArgumentError,
      'matrix: data is Float64Array(length 6) (expected a Float32Array)',
    );
    expectThrow(
      () => cpu.matrix(1, 2, [1, 2] as never),
      InvalidArgumentError,
      'matrix: data is array(length 2) (expected a Float32Array)',
    );
  });
});

describe('matmul', () => {
  it('rejects an inner-dimension mismatch', () => {
    expectThrow(
      () => cpu.matmul(m(4, 3), m(2, 5)),
      InvalidArgumentError,
      'matmul: a is 4×3 but b is 2×5 (a.cols must equal b.rows)',
    );
  });

  it('names the transposed dimension when transposeA is set', () => {
    // aᵀ is 3×4, so its inner dimension is a.rows = 4, not b.rows = 2.
    expectThrow(
      () => cpu.matmul(m(4, 3), m(2, 5), { transposeA: true }),
      InvalidArgumentError,
      'matmul: a is 4×3 but b is 2×5 (a.rows (a is transposed) must equal b.rows)',
    );
  });

  it('names the transposed dimension when transposeB is set', () => {
    // 4×3 · (3×2)ᵀ would work without the transpose; with it the inner dimension is b.cols = 2.
    expectThrow(
      () => cpu.matmul(m(4, 3), m(3, 2), { transposeB: true }),
      InvalidArgumentError,
      'matmul: a is 4×3 but b is 3×2 (a.cols must equal b.cols (b is transposed))',
    );
  });

  it.each([
    [1, 3],
    [3, 1],
    [2, 4],
  ])('rejects a %i×%i bias for a 2×4 output', (rows, cols) => {
    expectThrow(
      () => cpu.matmul(m(2, 3), m(3, 4), { bias: m(rows, cols) }),
      InvalidArgumentError,
      `matmul: bias is ${rows}×${cols} (expected 1×4, one value per output column)`,
    );
  });

  it('rejects a bias that is not a Matrix', () => {
    expectThrow(
      () => cpu.matmul(m(2, 3), m(3, 4), { bias: new Float32Array(4) as never }),
      InvalidArgumentError,
      'matmul: bias is Float32Array(length 4) (expected a Matrix made by this backend)',
    );
  });

  it('rejects an unknown activation', () => {
    expectThrow(
      () => cpu.matmul(m(2, 3), m(3, 4), { activation: 'swish' as never }),
      InvalidArgumentError,
      `matmul: activation is "swish" (expected one of 'relu', 'sigmoid', 'tanh', 'linear', 'softmax')`,
    );
  });

  it('rejects operands that are not matrices made by a backend', () => {
    const fake = { rows: 2, cols: 2, read: async () => new Float32Array(4), dispose() {} };
    expectThrow(
      () => cpu.matmul(fake, m(2, 2)),
      InvalidArgumentError,
      'matmul: a is object (expected a Matrix made by this backend)',
    );
    expectThrow(
      () => cpu.matmul(m(2, 2), null as never),
      InvalidArgumentError,
      'matmul: b is null (expected a Matrix made by this backend)',
    );
  });
});

describe('activation, activationBackward, biasGrad, mse', () => {
  it('activation rejects an unknown kind', () => {
    expectThrow(
      () => cpu.activation('gelu' as never, m(1, 2)),
      InvalidArgumentError,
      `activation: kind is "gelu" (expected one of 'relu', 'sigmoid', 'tanh', 'linear', 'softmax')`,
    );
  });

  it('activationBackward rejects an unknown kind and mismatched shapes', () => {
    expectThrow(
      () => cpu.activationBackward('swish' as never, m(1, 2), m(1, 2)),
      InvalidArgumentError,
      `activationBackward: kind is "swish" (expected one of 'relu', 'sigmoid', 'tanh', 'linear', 'softmax')`,
    );
    expectThrow(
      () => cpu.activationBackward('relu', m(2, 3), m(3, 2)),
      InvalidArgumentError,
      'activationBackward: y is 2×3 but dy is 3×2 (shapes must match)',
    );
  });

  it('biasGrad rejects a non-matrix', () => {
    expectThrow(
      () => cpu.biasGrad(undefined as never),
      InvalidArgumentError,
      'biasGrad: dz is undefined (expected a Matrix made by this backend)',
    );
  });

  it.each(['mseLoss', 'mseGrad'] as const)('%s rejects pred and target of different shapes', (op) => {
    // Same element count, different shape: must not be accepted as a flat array.
    expectThrow(
      () => cpu[op](m(2, 2), m(1, 4)),
      InvalidArgumentError,
      `${op}: pred is 2×2 but target is 1×4 (shapes must match)`,
    );
  });
});

describe('sgdUpdate', () => {
  it.each([
    [0, '0'],
    [-1, '-1'],
    [Number.NaN, 'NaN'],
    [Infinity, 'Infinity'],
    [-Infinity, '-Infinity'],
    ['0.1', '"0.1"'],
  ])('rejects learningRate = %s and leaves param unchanged', async (lr, shown) => {
    const param = cpu.matrix(1, 3, Float32Array.of(1, 2, 3));
    expectThrow(
      () => cpu.sgdUpdate(param, m(1, 3), lr as number),
      InvalidArgumentError,
      `sgdUpdate: learningRate is ${shown} (expected a finite number > 0)`,
    );
    expect(Array.from(await param.read())).toEqual([1, 2, 3]);
  });

  it('rejects a grad of another shape and leaves param unchanged', async () => {
    const param = cpu.matrix(1, 3, Float32Array.of(1, 2, 3));
    expectThrow(
      () => cpu.sgdUpdate(param, m(3, 1), 0.1),
      InvalidArgumentError,
      'sgdUpdate: param is 1×3 but grad is 3×1 (shapes must match)',
    );
    expect(Array.from(await param.read())).toEqual([1, 2, 3]);
  });
});

describe('lifetimes', () => {
  it('using a disposed matrix throws DisposedError, in any argument position', async () => {
    const a = m(2, 2);
    a.dispose();
    expectThrow(() => cpu.matmul(a, m(2, 2)), DisposedError, "matmul: matrix 'matrix' (2×2) was disposed");
    expectThrow(
      () => cpu.matmul(m(2, 2), m(2, 2), { bias: a }),
      DisposedError,
      "matmul: matrix 'matrix' (2×2) was disposed",
    );
    expectThrow(() => cpu.activation('relu', a), DisposedError, "activation: matrix 'matrix' (2×2) was disposed");
    expectThrow(() => cpu.sgdUpdate(m(2, 2), a, 0.1), DisposedError, "sgdUpdate: matrix 'matrix' (2×2) was disposed");
    await expect(a.read()).rejects.toThrow(DisposedError);
    await expect(a.read()).rejects.toThrow("read: matrix 'matrix' (2×2) was disposed");
  });

  it('dispose twice is safe', () => {
    const a = m(1, 1);
    a.dispose();
    expect(() => a.dispose()).not.toThrow();
  });

  it('using a destroyed backend throws DisposedError', () => {
    const a = m(2, 2);
    cpu.destroy();
    expectThrow(() => cpu.matrix(1, 1), DisposedError, 'matrix: the cpu backend was destroyed');
    expectThrow(() => cpu.matmul(a, a), DisposedError, 'matmul: the cpu backend was destroyed');
    expectThrow(() => cpu.activation('relu', a), DisposedError, 'activation: the cpu backend was destroyed');
    expectThrow(() => cpu.mseLoss(a, a), DisposedError, 'mseLoss: the cpu backend was destroyed');
    expectThrow(() => cpu.sgdUpdate(a, a, 0.1), DisposedError, 'sgdUpdate: the cpu backend was destroyed');
  });

  it('reading a matrix of a destroyed backend rejects with DisposedError, like the webgpu backend', async () => {
    const a = m(2, 2);
    cpu.destroy();
    await expect(a.read()).rejects.toThrow(DisposedError);
    await expect(a.read()).rejects.toThrow('read: the cpu backend was destroyed');
  });

  it('destroy twice, and disposing matrices after destroy, are safe', () => {
    const a = m(2, 2);
    cpu.destroy();
    expect(() => cpu.destroy()).not.toThrow();
    expect(() => a.dispose()).not.toThrow();
  });

  it('matrices cannot be mixed across backend instances', async () => {
    const other = await createBackend('cpu');
    const foreign = other.matrix(2, 2);
    expectThrow(
      () => cpu.matmul(m(2, 2), foreign),
      InvalidArgumentError,
      'matmul: b belongs to another backend (matrices cannot be mixed across backends)',
    );
    expectThrow(
      () => cpu.sgdUpdate(foreign, m(2, 2), 0.1),
      InvalidArgumentError,
      'sgdUpdate: param belongs to another backend (matrices cannot be mixed across backends)',
    );
  });
});

describe('createBackend', () => {
  it('rejects an unknown kind with InvalidArgumentError', async () => {
    const p = createBackend('gpu' as never);
    await expect(p).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(p).rejects.toThrow(`createBackend: kind is "gpu" (expected 'webgpu', 'wasm', 'cpu' or 'auto')`);
  });

  it('rejects bad wasm and auto options, naming the option, the value and the rule', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ threads: 0 }, 'createBackend: options.threads is 0 (expected an integer from 1 to 256)'],
      [{ threads: 1.5 }, 'createBackend: options.threads is 1.5 (expected an integer from 1 to 256)'],
      [{ threads: 300 }, 'createBackend: options.threads is 300 (expected an integer from 1 to 256)'],
      [{ auto: 5 }, 'createBackend: options.auto is 5 (expected an object)'],
      [{ auto: { timings: null } }, 'createBackend: options.auto.timings is null'],
      [{ auto: { timings: { webgpu: 1 } } }, 'createBackend: options.auto.timings is'],
      [{ auto: { timings: { webgpu: 1, wasm: -2 } } }, 'createBackend: options.auto.timings is'],
      [{ auto: { timings: { webgpu: Infinity, wasm: 2 } } }, 'createBackend: options.auto.timings is'],
    ];
    for (const [options, message] of cases) {
      for (const kind of ['wasm', 'auto'] as const) {
        const p = createBackend(kind, options as never);
        await expect(p, JSON.stringify(options)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(p, JSON.stringify(options)).rejects.toThrow(message);
      }
    }
  });

  it("'cpu' gives the CPU backend with no fallbackReason", async () => {
    expect(cpu.kind).toBe('cpu');
    expect(cpu.fallbackReason).toBeUndefined();
  });

  it("'auto' in Node (no navigator.gpu) falls back to a working wasm backend and says why", async () => {
    const auto = await createBackend('auto');
    expect(auto.kind).toBe('wasm');
    expect(auto.fallbackReason).toMatch(/navigator\.gpu/);
    expect(auto.choice).toMatch(/^wasm: WebGPU is unavailable \(navigator\.gpu is missing/);
    const out = auto.matmul(auto.matrix(1, 1, Float32Array.of(2)), auto.matrix(1, 1, Float32Array.of(3)));
    expect(Array.from(await out.read())).toEqual([6]);
    auto.destroy();
  });

  it("'webgpu' in Node rejects with WebGpuUnavailableError carrying the reason", async () => {
    const p = createBackend('webgpu');
    await expect(p).rejects.toBeInstanceOf(WebGpuUnavailableError);
    const err = (await p.catch((e: unknown) => e)) as WebGpuUnavailableError;
    expect(err.reason).toMatch(/navigator\.gpu/);
    expect(err.message).toBe(`WebGPU is unavailable: ${err.reason}`);
  });
});
