// The CPU reference backend: the simplest correct implementation of DESIGN.md's math. Its ops are thin
// wrappers around the loops in ops.ts, which the CPU trainer uses too; every other backend is tested
// against it.
import { DisposedError } from '../errors';
import { BaseMatrix, ownMatrix } from '../matrix';
import type { Trainer, TrainerSpec, TrainingBackend } from '../trainer';
import type { Activation, BackendLimits, MatmulOptions, Matrix } from '../types';
import {
  checkActivation,
  checkLearningRate,
  checkMatrixData,
  checkPositiveInt,
  checkSameShape,
  matmulShape,
} from '../validate';
import {
  activationBackwardInto,
  activationInto,
  biasGradInto,
  matmulInto,
  mseGradInto,
  optimizerStepInto,
  squaredErrorSum,
} from './ops';
import { CpuTrainer } from './trainer';

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
      this.backend.assertUsable('read');
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve(this.data.slice());
  }
  protected free(): void {
    this.data = new Float32Array(0);
  }
}

export class CpuBackend implements TrainingBackend {
  readonly kind = 'cpu' as const;
  readonly limits: BackendLimits = {
    // A Float32Array holds at most 2^32 - 1 elements in V8 today; report bytes.
    maxBufferSize: 2 ** 34,
    maxStorageBufferBindingSize: 2 ** 34,
  };
  #destroyed = false;

  constructor(readonly fallbackReason?: string) {}

  assertUsable(op: string): void {
    if (this.#destroyed) throw new DisposedError(`${op}: the cpu backend was destroyed`);
  }

  async recover(): Promise<void> {}

  createTrainer(spec: TrainerSpec): Trainer {
    this.assertUsable('Network');
    return new CpuTrainer(spec);
  }

  private arg(op: string, name: string, m: unknown): CpuMatrix {
    this.assertUsable(op);
    return ownMatrix(CpuMatrix, this, op, name, m);
  }

  private output(rows: number, cols: number, data = new Float32Array(rows * cols)): CpuMatrix {
    return new CpuMatrix(this, rows, cols, data);
  }

  matrix(rows: number, cols: number, data?: Float32Array): Matrix {
    this.assertUsable('matrix');
    checkPositiveInt('matrix', 'rows', rows);
    checkPositiveInt('matrix', 'cols', cols);
    return this.output(rows, cols, checkMatrixData('matrix', rows, cols, data)?.slice());
  }

  matmul(a: Matrix, b: Matrix, opts: MatmulOptions = {}): Matrix {
    const ma = this.arg('matmul', 'a', a);
    const mb = this.arg('matmul', 'b', b);
    const bias = opts.bias === undefined ? undefined : this.arg('matmul', 'bias', opts.bias);
    const { m, k, n } = matmulShape(ma, mb, opts);
    const c = this.output(m, n);
    matmulInto(c.data, ma.data, ma.cols, mb.data, mb.cols, m, k, n, { ...opts, bias: bias?.data });
    return c;
  }

  activation(kind: Activation, x: Matrix): Matrix {
    checkActivation('activation', 'kind', kind);
    const mx = this.arg('activation', 'x', x);
    const y = this.output(mx.rows, mx.cols);
    activationInto(y.data, mx.data, kind);
    return y;
  }

  activationBackward(kind: Activation, y: Matrix, dy: Matrix): Matrix {
    checkActivation('activationBackward', 'kind', kind);
    const my = this.arg('activationBackward', 'y', y);
    const mdy = this.arg('activationBackward', 'dy', dy);
    checkSameShape('activationBackward', 'y', my, 'dy', mdy);
    const dx = this.output(my.rows, my.cols);
    activationBackwardInto(dx.data, my.data, mdy.data, kind);
    return dx;
  }

  biasGrad(dz: Matrix): Matrix {
    const m = this.arg('biasGrad', 'dz', dz);
    const db = this.output(1, m.cols);
    biasGradInto(db.data, m.data, m.rows, m.cols);
    return db;
  }

  mseLoss(pred: Matrix, target: Matrix): Matrix {
    const p = this.arg('mseLoss', 'pred', pred);
    const t = this.arg('mseLoss', 'target', target);
    checkSameShape('mseLoss', 'pred', p, 'target', t);
    return this.output(1, 1, Float32Array.of(squaredErrorSum(p.data, t.data) / p.size));
  }

  mseGrad(pred: Matrix, target: Matrix): Matrix {
    const p = this.arg('mseGrad', 'pred', pred);
    const t = this.arg('mseGrad', 'target', target);
    checkSameShape('mseGrad', 'pred', p, 'target', t);
    const g = this.output(p.rows, p.cols);
    mseGradInto(g.data, p.data, t.data);
    return g;
  }

  sgdUpdate(param: Matrix, grad: Matrix, learningRate: number): void {
    const p = this.arg('sgdUpdate', 'param', param);
    const g = this.arg('sgdUpdate', 'grad', grad);
    checkSameShape('sgdUpdate', 'param', p, 'grad', g);
    checkLearningRate('sgdUpdate', 'learningRate', learningRate);
    optimizerStepInto({ type: 'sgd', learningRate, c1: 1, c2: 1 }, p.data, g.data);
  }

  destroy(): void {
    this.#destroyed = true;
  }
}
