// The CPU reference backend: the simplest correct implementation of DESIGN.md's math, in plain loops.
// It is the specification every GPU kernel is tested against, so it favours clarity over speed:
// matmul sums are accumulated in f64 (JavaScript numbers) and rounded to f32 once per output.
import type { Activation, Backend, BackendLimits, MatmulOptions, Matrix } from '../types';
import { BaseMatrix, ownMatrix } from '../matrix';
import { DisposedError } from '../errors';
import {
  checkActivation,
  checkLearningRate,
  checkMatrixData,
  checkPositiveInt,
  checkSameShape,
  matmulShape,
} from '../validate';

export class CpuMatrix extends BaseMatrix {
  constructor(
    private readonly backend: CpuBackend,
    rows: number,
    cols: number,
    public data: Float32Array,
    label = 'matrix',
  ) {
    super(backend, rows, cols, label);
  }
  read(): Promise<Float32Array> {
    try {
      this.assertLive('read');
      // Like the webgpu backend: destroy() frees everything the backend made, so reading after it fails.
      this.backend.live('read');
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve(this.data.slice());
  }
  protected free(): void {
    this.data = new Float32Array(0);
  }
}

/** f(z) for one value. */
export function activate(kind: Activation, z: number): number {
  switch (kind) {
    case 'relu':
      return z > 0 ? z : 0;
    case 'sigmoid':
      return 1 / (1 + Math.exp(-z));
    case 'linear':
      return z;
  }
}

/** f'(z) written in terms of y = f(z), as DESIGN.md defines it. */
export function activateGrad(kind: Activation, y: number): number {
  switch (kind) {
    case 'relu':
      return y > 0 ? 1 : 0;
    case 'sigmoid':
      return y * (1 - y);
    case 'linear':
      return 1;
  }
}

/**
 * C = op(A)·op(B) (+ bias, then f), with op = identity or transpose; plain loops over f64 sums.
 * The loops run i, p, j so the inner loop walks a row of B and of the accumulator (cache-friendly);
 * each C[i, j] is still the sum over p in ascending order, exactly as the textbook i, j, p order.
 */
export function matmulInto(
  out: Float32Array,
  a: Float32Array,
  aCols: number,
  b: Float32Array,
  bCols: number,
  m: number,
  k: number,
  n: number,
  opts: { transposeA?: boolean; transposeB?: boolean; bias?: Float32Array; activation?: Activation },
): void {
  const { transposeA = false, transposeB = false, bias, activation = 'linear' } = opts;
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const av = transposeA ? a[p * aCols + i] : a[i * aCols + p];
      if (transposeB) {
        for (let j = 0; j < n; j++) acc[j] += av * b[j * bCols + p];
      } else {
        const row = p * bCols;
        for (let j = 0; j < n; j++) acc[j] += av * b[row + j];
      }
    }
    for (let j = 0; j < n; j++) {
      // Round like the GPU does: the f32 sum, then the f32 bias add, then f.
      let z = Math.fround(acc[j]);
      if (bias) z = Math.fround(z + bias[j]);
      out[i * n + j] = activate(activation, z);
    }
  }
}

export class CpuBackend implements Backend {
  readonly kind = 'cpu' as const;
  readonly limits: BackendLimits = {
    // A Float32Array holds at most 2^32 - 1 elements in V8 today; report bytes.
    maxBufferSize: 2 ** 34,
    maxStorageBufferBindingSize: 2 ** 34,
  };
  #destroyed = false;

  constructor(readonly fallbackReason?: string) {}

  /** Throws DisposedError once destroy() was called; matrices check it too. */
  live(op: string): void {
    if (this.#destroyed) throw new DisposedError(`${op}: the cpu backend was destroyed`);
  }

  private arg(op: string, name: string, m: unknown): CpuMatrix {
    this.live(op);
    return ownMatrix(CpuMatrix, this, op, name, m);
  }

  matrix(rows: number, cols: number, data?: Float32Array): Matrix {
    this.live('matrix');
    checkPositiveInt('matrix', 'rows', rows);
    checkPositiveInt('matrix', 'cols', cols);
    const values = checkMatrixData('matrix', rows, cols, data);
    return new CpuMatrix(this, rows, cols, values ? values.slice() : new Float32Array(rows * cols));
  }

  matmul(a: Matrix, b: Matrix, opts: MatmulOptions = {}): Matrix {
    const ma = this.arg('matmul', 'a', a);
    const mb = this.arg('matmul', 'b', b);
    const bias = opts.bias === undefined ? undefined : this.arg('matmul', 'bias', opts.bias);
    const { m, k, n } = matmulShape(ma, mb, opts);
    const out = new Float32Array(m * n);
    matmulInto(out, ma.data, ma.cols, mb.data, mb.cols, m, k, n, { ...opts, bias: bias?.data });
    return new CpuMatrix(this, m, n, out);
  }

  activation(kind: Activation, x: Matrix): Matrix {
    checkActivation('activation', 'kind', kind);
    const mx = this.arg('activation', 'x', x);
    return new CpuMatrix(
      this,
      mx.rows,
      mx.cols,
      mx.data.map((z) => activate(kind, z)),
    );
  }

  activationBackward(kind: Activation, y: Matrix, dy: Matrix): Matrix {
    checkActivation('activationBackward', 'kind', kind);
    const my = this.arg('activationBackward', 'y', y);
    const mdy = this.arg('activationBackward', 'dy', dy);
    checkSameShape('activationBackward', 'y', my, 'dy', mdy);
    const out = new Float32Array(my.size);
    for (let i = 0; i < out.length; i++) out[i] = mdy.data[i] * activateGrad(kind, my.data[i]);
    return new CpuMatrix(this, my.rows, my.cols, out);
  }

  biasGrad(dz: Matrix): Matrix {
    const m = this.arg('biasGrad', 'dz', dz);
    const out = new Float32Array(m.cols);
    for (let j = 0; j < m.cols; j++) {
      let sum = 0;
      for (let i = 0; i < m.rows; i++) sum += m.data[i * m.cols + j];
      out[j] = sum;
    }
    return new CpuMatrix(this, 1, m.cols, out);
  }

  mseLoss(pred: Matrix, target: Matrix): Matrix {
    const p = this.arg('mseLoss', 'pred', pred);
    const t = this.arg('mseLoss', 'target', target);
    checkSameShape('mseLoss', 'pred', p, 'target', t);
    let sum = 0;
    for (let i = 0; i < p.size; i++) sum += (p.data[i] - t.data[i]) ** 2;
    return new CpuMatrix(this, 1, 1, Float32Array.of(sum / p.size));
  }

  mseGrad(pred: Matrix, target: Matrix): Matrix {
    const p = this.arg('mseGrad', 'pred', pred);
    const t = this.arg('mseGrad', 'target', target);
    checkSameShape('mseGrad', 'pred', p, 'target', t);
    const scale = 2 / p.size;
    const out = new Float32Array(p.size);
    for (let i = 0; i < out.length; i++) out[i] = scale * (p.data[i] - t.data[i]);
    return new CpuMatrix(this, p.rows, p.cols, out);
  }

  sgdUpdate(param: Matrix, grad: Matrix, learningRate: number): void {
    const p = this.arg('sgdUpdate', 'param', param);
    const g = this.arg('sgdUpdate', 'grad', grad);
    checkSameShape('sgdUpdate', 'param', p, 'grad', g);
    checkLearningRate('sgdUpdate', 'learningRate', learningRate);
    for (let i = 0; i < p.size; i++) p.data[i] -= learningRate * g.data[i];
  }

  destroy(): void {
    this.#destroyed = true;
  }
}
