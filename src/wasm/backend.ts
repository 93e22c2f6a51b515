// The WebAssembly backend ('wasm'): the Backend API of DESIGN.md as eager engine programs, and the trainer
// a Network runs on (trainer.ts). Each eager op is one program queued on the engine; its output matrix's
// read() waits for the queue, so ops can be chained without awaiting each. The engine (engine.ts) owns the
// memory, the threads and the kernels; this file knows matrices and argument checks.
import { DisposedError, HostMemoryError } from '../errors';
import { BaseMatrix, ownMatrix } from '../matrix';
import { parameterCount, stateSlots, type Trainer, type TrainerSpec, type TrainingBackend } from '../trainer';
import type { Activation, BackendLimits, MatmulOptions, Matrix, WasmBackendInfo } from '../types';
import {
  checkActivation,
  checkLearningRate,
  checkMatrixData,
  checkPositiveInt,
  checkSameShape,
  matmulShape,
} from '../validate';
import type { WasmBuffer } from './buffer';
import { type EngineOptions, WasmEngine } from './engine';
import type { AnyOp } from './program';
import { WasmTrainer } from './trainer';

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export class WasmMatrix extends BaseMatrix {
  /** The run that last wrote this matrix (runs execute in call order, so the ones before it are done too). */
  ready: Promise<void> = Promise.resolve();
  constructor(
    private readonly backend: WasmBackend,
    rows: number,
    cols: number,
    readonly buffer: WasmBuffer,
  ) {
    super(backend, rows, cols, buffer.label);
  }
  async read(): Promise<Float32Array> {
    this.assertLive('read');
    this.backend.assertUsable('read');
    await this.ready;
    return this.backend.engine.f32(this.buffer).slice();
  }
  protected free(): void {
    if (!this.backend.engine.destroyed) this.backend.engine.free(this.buffer);
  }
}

export interface WasmBackendOptions extends EngineOptions {
  /**
   * The most wasm memory, in bytes, that networks and matrices on this backend may hold (default: all that
   * wasm32 allows, 4 GiB); the engine's own scratch is not counted.
   */
  memoryBudget?: number;
}

export class WasmBackend implements TrainingBackend, WasmBackendInfo {
  readonly kind = 'wasm' as const;
  readonly limits: BackendLimits;
  readonly memoryBudget: number;
  #destroyed = false;
  #count = 0;

  /** Set by createBackend('auto'): why not WebGPU, and which backend it chose and why. */
  fallbackReason?: string;
  choice?: string;

  private constructor(
    readonly engine: WasmEngine,
    memoryBudget: number | undefined,
  ) {
    this.memoryBudget = Math.min(memoryBudget ?? Infinity, engine.memoryLimit);
    this.limits = { maxBufferSize: engine.memoryLimit, maxStorageBufferBindingSize: engine.memoryLimit };
  }

  static async create(options: WasmBackendOptions = {}): Promise<WasmBackend> {
    return new WasmBackend(await WasmEngine.create({ threads: options.threads }), options.memoryBudget);
  }

  get threads(): number {
    return this.engine.threads;
  }

  get threadsReason(): string {
    return this.engine.threadsReason;
  }

  get relaxedSimd(): boolean {
    return this.engine.relaxedSimd;
  }

  /** Bytes of wasm memory that networks and matrices hold: what memoryBudget limits (not the engine's scratch). */
  get bytesUsed(): number {
    return this.engine.bytesInUse - this.engine.ownBytes;
  }

  /**
   * Bytes of wasm memory in use by networks and matrices (engine scratch not counted) and held in all (the
   * memory grows, never shrinks), and allocations made so far.
   */
  get memory(): { bytesInUse: number; memoryBytes: number; allocations: number } {
    return {
      bytesInUse: this.bytesUsed,
      memoryBytes: this.engine.memoryBytes,
      allocations: this.engine.allocations,
    };
  }

  assertUsable(op: string): void {
    if (this.#destroyed) throw new DisposedError(`${op}: the wasm backend was destroyed`);
  }

  async recover(): Promise<void> {}

  checkCapacity(op: string, spec: Omit<TrainerSpec, 'params'>): void {
    // Weights and biases, their gradients and the optimizer's state, in wasm memory.
    const bytes = parameterCount(spec.inputSize, spec.layers) * 4 * (2 + stateSlots(spec.optimizer));
    const room = this.memoryBudget - this.bytesUsed;
    if (bytes > room) {
      const limit = this.memoryBudget < this.engine.memoryLimit ? 'memoryBudget' : 'wasm32 memory limit';
      throw new HostMemoryError(
        `${op}: needs ${bytes} bytes (${mib(bytes)}) of wasm memory for its parameters, gradients and optimizer ` +
          `state, with ${mib(Math.max(0, room))} left under the wasm backend's ${limit} of ` +
          `${mib(this.memoryBudget)}; ` +
          'nothing was allocated',
      );
    }
  }

  createTrainer(spec: TrainerSpec): Trainer {
    this.assertUsable('Network');
    return new WasmTrainer(this.engine, spec, { budget: this.memoryBudget, used: () => this.bytesUsed });
  }

  private arg(op: string, name: string, m: unknown): WasmMatrix {
    this.assertUsable(op);
    return ownMatrix(WasmMatrix, this, op, name, m);
  }

  private output(op: string, rows: number, cols: number): WasmMatrix {
    if (rows * cols * 4 > this.memoryBudget - this.bytesUsed) {
      throw new HostMemoryError(
        `${op}: a ${rows}×${cols} result needs ${rows * cols * 4} bytes, over the wasm backend's memoryBudget`,
      );
    }
    return new WasmMatrix(this, rows, cols, this.engine.alloc(rows * cols, `${op}#${++this.#count} ${rows}×${cols}`));
  }

  /**
   * Queues ops as one program writing `out`; scratch buffers made for them are freed at once (the engine
   * hands their memory back when the run is over).
   */
  private run(out: WasmMatrix, ops: AnyOp[], scratch: WasmBuffer[] = []): void {
    const run = this.engine.runOps(ops);
    for (const b of scratch) this.engine.free(b);
    out.ready = run;
    run.catch(() => {}); // reported by out.read()
  }

  matrix(rows: number, cols: number, data?: Float32Array): Matrix {
    this.assertUsable('matrix');
    checkPositiveInt('matrix', 'rows', rows);
    checkPositiveInt('matrix', 'cols', cols);
    const values = checkMatrixData('matrix', rows, cols, data);
    const m = this.output('matrix', rows, cols);
    const view = this.engine.f32(m.buffer);
    if (values) view.set(values);
    else view.fill(0);
    return m;
  }

  matmul(a: Matrix, b: Matrix, opts: MatmulOptions = {}): Matrix {
    const ma = this.arg('matmul', 'a', a);
    const mb = this.arg('matmul', 'b', b);
    const bias = opts.bias === undefined ? undefined : this.arg('matmul', 'bias', opts.bias);
    const { m, k, n } = matmulShape(ma, mb, opts);
    const c = this.output('matmul', m, n);
    const softmax = opts.activation === 'softmax';
    const activation = opts.activation === undefined || opts.activation === 'softmax' ? 'linear' : opts.activation;
    this.run(c, [
      {
        op: 'gemm',
        a: ma.buffer,
        b: mb.buffer,
        c: c.buffer,
        m,
        n,
        k,
        bias: bias?.buffer,
        activation,
        transA: !!opts.transposeA,
        transB: !!opts.transposeB,
      },
      // softmax is row-wise: the product is the logits, made probabilities in place.
      ...(softmax ? [{ op: 'softmax' as const, x: c.buffer, y: c.buffer, m, n }] : []),
    ]);
    return c;
  }

  activation(kind: Activation, x: Matrix): Matrix {
    checkActivation('activation', 'kind', kind);
    const mx = this.arg('activation', 'x', x);
    const y = this.output('activation', mx.rows, mx.cols);
    const [m, n] = [mx.rows, mx.cols];
    this.run(y, [
      kind === 'softmax'
        ? { op: 'softmax', x: mx.buffer, y: y.buffer, m, n }
        : { op: 'activation', x: mx.buffer, y: y.buffer, activation: kind },
    ]);
    return y;
  }

  activationBackward(kind: Activation, y: Matrix, dy: Matrix): Matrix {
    checkActivation('activationBackward', 'kind', kind);
    const my = this.arg('activationBackward', 'y', y);
    const mdy = this.arg('activationBackward', 'dy', dy);
    checkSameShape('activationBackward', 'y', my, 'dy', mdy);
    const dx = this.output('activationBackward', my.rows, my.cols);
    const [m, n] = [my.rows, my.cols];
    this.run(dx, [
      kind === 'softmax'
        ? { op: 'softmaxGrad', y: my.buffer, dy: mdy.buffer, out: dx.buffer, m, n }
        : { op: 'activationGrad', y: my.buffer, dy: mdy.buffer, out: dx.buffer, activation: kind },
    ]);
    return dx;
  }

  biasGrad(dz: Matrix): Matrix {
    const m = this.arg('biasGrad', 'dz', dz);
    const db = this.output('biasGrad', 1, m.cols);
    this.run(db, [{ op: 'biasGrad', dz: m.buffer, out: db.buffer, m: m.rows, n: m.cols }]);
    return db;
  }

  mseLoss(pred: Matrix, target: Matrix): Matrix {
    const p = this.arg('mseLoss', 'pred', pred);
    const t = this.arg('mseLoss', 'target', target);
    checkSameShape('mseLoss', 'pred', p, 'target', t);
    const loss = this.output('mseLoss', 1, 1);
    this.run(loss, [{ op: 'mseLoss', p: p.buffer, t: t.buffer, out: loss.buffer, scale: 1 / p.size }]);
    return loss;
  }

  mseGrad(pred: Matrix, target: Matrix): Matrix {
    const p = this.arg('mseGrad', 'pred', pred);
    const t = this.arg('mseGrad', 'target', target);
    checkSameShape('mseGrad', 'pred', p, 'target', t);
    const g = this.output('mseGrad', p.rows, p.cols);
    this.run(g, [{ op: 'mseGrad', p: p.buffer, t: t.buffer, g: g.buffer, scale: 2 / p.size }]);
    return g;
  }

  /** The cross-entropy op over a scratch copy of the logits (it turns them into the softmax). */
  private crossEntropy(op: string, logits: Matrix, target: Matrix, grad: boolean): Matrix {
    const z = this.arg(op, 'logits', logits);
    const t = this.arg(op, 'target', target);
    checkSameShape(op, 'logits', z, 'target', t);
    const [m, n] = [z.rows, z.cols];
    const out = grad ? this.output(op, m, n) : this.output(op, 1, 1);
    const probs = this.engine.alloc(z.size, `${out.label}.softmax`);
    const loss = grad ? this.engine.alloc(1, `${out.label}.loss`) : out.buffer;
    const dz = grad ? { dz: out.buffer, gradScale: 1 / m } : {};
    this.run(
      out,
      [
        { op: 'copy', src: z.buffer, dst: probs },
        { op: 'crossEntropy', z: probs, t: t.buffer, m, n, loss, lossScale: 1 / m, ...dz },
      ],
      grad ? [probs, loss] : [probs],
    );
    return out;
  }

  crossEntropyLoss(logits: Matrix, target: Matrix): Matrix {
    return this.crossEntropy('crossEntropyLoss', logits, target, false);
  }

  crossEntropyGrad(logits: Matrix, target: Matrix): Matrix {
    return this.crossEntropy('crossEntropyGrad', logits, target, true);
  }

  sgdUpdate(param: Matrix, grad: Matrix, learningRate: number): void {
    const p = this.arg('sgdUpdate', 'param', param);
    const g = this.arg('sgdUpdate', 'grad', grad);
    checkSameShape('sgdUpdate', 'param', p, 'grad', g);
    checkLearningRate('sgdUpdate', 'learningRate', learningRate);
    const hyper = this.engine.alloc(8, 'sgdUpdate.hyper');
    this.engine.f32(hyper).set([learningRate, 0, 0, 0, 1, 1, 0, 0]);
    this.run(p, [{ op: 'sgd', p: p.buffer, g: g.buffer, hyper }], [hyper]);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.engine.destroy();
  }
}
