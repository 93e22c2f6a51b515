// The CPU reference backend: the simplest correct implementation of DESIGN.md's math. Its ops are thin
// wrappers around the loops in ops.ts, which the CPU trainer uses too; every other backend is tested
// against it.
import { DisposedError, HostMemoryError } from '../errors';
import { BaseMatrix, ownMatrix } from '../matrix';
import { parameterCount, stateSlots, type Trainer, type TrainerSpec, type TrainingBackend } from '../trainer';
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
  crossEntropyGradInto,
  crossEntropySum,
  matmulInto,
  mseGradInto,
  optimizerStepInto,
  softmaxInto,
  squaredErrorSum,
} from './ops';
import { CpuTrainer } from './trainer';

/** The CPU backend's memoryBudget when none is given. */
const DEFAULT_CPU_BUDGET = 4 * 2 ** 30;

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

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
    // The longest Float32Array V8 makes (2^32 − 1 elements), in bytes.
    maxBufferSize: (2 ** 32 - 1) * 4,
    maxStorageBufferBindingSize: (2 ** 32 - 1) * 4,
  };
  #destroyed = false;

  constructor(
    readonly fallbackReason?: string,
    /** Host memory a network on this backend may hold: parameters, gradients, optimizer state, a batch. */
    readonly memoryBudget = DEFAULT_CPU_BUDGET,
    /** Set by createBackend('auto'): why it chose the CPU. */
    readonly choice?: string,
  ) {}

  assertUsable(op: string): void {
    if (this.#destroyed) throw new DisposedError(`${op}: the cpu backend was destroyed`);
  }

  checkCapacity(op: string, spec: Omit<TrainerSpec, 'params'>): void {
    // Weights and biases, their gradients, and the optimizer's state tensors.
    const tensors = 2 + stateSlots(spec.optimizer);
    const bytes = parameterCount(spec.inputSize, spec.layers) * 4 * tensors;
    if (bytes > this.memoryBudget) {
      throw new HostMemoryError(
        `${op}: needs ${bytes} bytes (${mib(bytes)}) of host memory for its parameters, gradients and ` +
          `optimizer state, over the cpu backend's memoryBudget of ${mib(this.memoryBudget)}; nothing was allocated`,
      );
    }
  }

  async recover(): Promise<void> {}

  createTrainer(spec: TrainerSpec): Trainer {
    this.assertUsable('Network');
    return new CpuTrainer(spec, this.memoryBudget);
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
    activationInto(y.data, mx.data, kind, mx.cols);
    return y;
  }

  activationBackward(kind: Activation, y: Matrix, dy: Matrix): Matrix {
    checkActivation('activationBackward', 'kind', kind);
    const my = this.arg('activationBackward', 'y', y);
    const mdy = this.arg('activationBackward', 'dy', dy);
    checkSameShape('activationBackward', 'y', my, 'dy', mdy);
    const dx = this.output(my.rows, my.cols);
    activationBackwardInto(dx.data, my.data, mdy.data, kind, my.cols);
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

  crossEntropyLoss(logits: Matrix, target: Matrix): Matrix {
    const z = this.arg('crossEntropyLoss', 'logits', logits);
    const t = this.arg('crossEntropyLoss', 'target', target);
    checkSameShape('crossEntropyLoss', 'logits', z, 'target', t);
    return this.output(1, 1, Float32Array.of(crossEntropySum(z.data, t.data, z.cols) / z.rows));
  }

  crossEntropyGrad(logits: Matrix, target: Matrix): Matrix {
    const z = this.arg('crossEntropyGrad', 'logits', logits);
    const t = this.arg('crossEntropyGrad', 'target', target);
    checkSameShape('crossEntropyGrad', 'logits', z, 'target', t);
    const g = this.output(z.rows, z.cols);
    softmaxInto(g.data, z.data, z.cols);
    crossEntropyGradInto(g.data, g.data, t.data, z.rows);
    return g;
  }

  sgdUpdate(param: Matrix, grad: Matrix, learningRate: number): void {
    const p = this.arg('sgdUpdate', 'param', param);
    const g = this.arg('sgdUpdate', 'grad', grad);
    checkSameShape('sgdUpdate', 'param', p, 'grad', g);
    checkLearningRate('sgdUpdate', 'learningRate', learningRate);
    optimizerStepInto({ type: 'sgd', learningRate, weightDecay: 0, c1: 1, c2: 1 }, p.data, g.data);
  }

  destroy(): void {
    this.#destroyed = true;
  }
}
