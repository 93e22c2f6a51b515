// The WebGPU backend: the Backend API of DESIGN.md as eager GPU operations, and the trainer a Network
// runs on (trainer.ts). Each eager op records its dispatches into one encoder and submits at once;
// nothing waits for the GPU until read(). Training does not go through these ops: the trainer records
// whole steps.
import { DeviceLostError } from '../errors';
import { BaseMatrix, ownMatrix } from '../matrix';
import type { Trainer, TrainerSpec, TrainingBackend } from '../trainer';
import type {
  Activation,
  BackendLimits,
  BackendOptions,
  MatmulOptions,
  Matrix,
  TuningStats,
  WebGpuBackend,
} from '../types';
import {
  checkActivation,
  checkLearningRate,
  checkMatrixData,
  checkPositiveInt,
  checkSameShape,
  matmulShape,
} from '../validate';
import type { MatmulTuner } from './autotune';
import { GpuContext } from './context';
import { paramLayout } from './params';
import { openDevice } from './device';
import { type Dispatch, type Recording, recording, recordingResources } from './dispatch';
import { activationBackwardDispatch, activationDispatch } from './kernels/activation';
import { biasGradDispatch } from './kernels/bias_grad';
import { matmulRecording } from './kernels/matmul';
import { type MatmulArgs, type MatmulShape, shapeOf } from './kernels/matmul_args';
import { mseFinishDispatch, mseGradDispatch, msePartCount, msePartialDispatch, sumDispatch } from './kernels/mse';
import { crossEntropyDispatch, softmaxBackwardDispatch, softmaxDispatch } from './kernels/softmax';
import { hyperWords, optimizerDispatch } from './kernels/optimizer';
import { deviceTuner } from './matmul_timing';
import { GpuTrainer } from './trainer';

export class GpuMatrix extends BaseMatrix {
  /** The device context the buffer lives on; after a recover() the backend has a new one. */
  readonly ctx: GpuContext;
  constructor(
    private readonly backend: GpuBackend,
    rows: number,
    cols: number,
    readonly buffer: GPUBuffer,
  ) {
    super(backend, rows, cols, buffer.label);
    this.ctx = backend.ctx;
  }
  override assertLive(op: string): void {
    super.assertLive(op);
    if (this.ctx !== this.backend.ctx) {
      throw new DeviceLostError(
        `${op}: matrix '${this.label}' lived on a GPU device that was lost; its values are gone`,
      );
    }
  }
  async read(): Promise<Float32Array> {
    this.assertLive('read');
    this.ctx.assertUsable('read');
    return this.ctx.read(this.buffer, this.size);
  }
  protected free(): void {
    this.ctx.release(this.buffer);
  }
}

export class GpuBackend implements TrainingBackend, WebGpuBackend {
  readonly kind = 'webgpu' as const;
  readonly fallbackReason = undefined;
  /** Set by createBackend('auto'): why it chose WebGPU, in words. */
  choice?: string;
  readonly limits: BackendLimits;
  #count = 0;
  #tuner: MatmulTuner;

  private constructor(
    public ctx: GpuContext,
    private readonly options: BackendOptions,
  ) {
    this.limits = { maxBufferSize: ctx.limits.maxBufferSize, maxStorageBufferBindingSize: ctx.bindingLimit };
    this.#tuner = deviceTuner(ctx, options.autotune ?? true);
  }

  static async create(options: BackendOptions = {}): Promise<GpuBackend> {
    const opened = await openDevice(options.powerPreference);
    return new GpuBackend(await GpuContext.create(opened, options.onError, options), options);
  }

  /** The GPUDevice this backend runs on (a new one after recover()). */
  get device(): GPUDevice {
    return this.ctx.device;
  }

  /** The adapter's name as it reports it ("google swiftshader" for the software adapter). */
  get adapterName(): string {
    return this.ctx.adapterName;
  }

  /** The matmul tuner's counters: shape classes timed here, taken from the cache, and cache entries rejected. */
  get tuning(): Readonly<TuningStats> {
    return { enabled: this.#tuner.enabled, ...this.#tuner.stats };
  }

  assertUsable(op: string): void {
    this.ctx.assertUsable(op);
  }

  checkCapacity(op: string, spec: Omit<TrainerSpec, 'params'>): void {
    const { specs } = paramLayout(spec, this.ctx.bindingLimit, spec.optimizer.type === 'sgd');
    this.ctx.preflight(op, specs);
  }

  createTrainer(spec: TrainerSpec): Trainer {
    this.ctx.assertUsable('Network');
    return new GpuTrainer(this.ctx, this.#tuner, spec);
  }

  /**
   * After the device was lost: opens a new device and context. Matrices of the old device stay unusable
   * (DeviceLostError); networks rebuild themselves with Network.recover(). Does nothing if not lost.
   */
  async recover(): Promise<void> {
    if (!this.ctx.lost) return;
    const old = this.ctx;
    const opened = await openDevice(this.options.powerPreference);
    this.ctx = await GpuContext.create(opened, this.options.onError, this.options);
    this.#tuner = deviceTuner(this.ctx, this.options.autotune ?? true);
    old.destroy();
  }

  /**
   * Internal (benchmark): tunes the matmul variant for this shape class now, as a network does in the
   * background on first use, and returns the chosen variant's name. Eager matmul() uses tuned choices
   * but never asks for tuning.
   */
  tuneMatmul(shape: MatmulShape): Promise<string> {
    return this.#tuner.tune(shape);
  }

  /** Internal (benchmark, tests): resolves when the background tuning asked for so far is done. */
  tuningIdle(): Promise<void> {
    return this.#tuner.idle();
  }

  /**
   * Internal (tests): replaces the matmul tuner, e.g. with one whose timings are injected. Networks
   * created afterwards use it.
   */
  useTuner(make: (ctx: GpuContext) => MatmulTuner): void {
    this.#tuner = make(this.ctx);
  }

  private arg(op: string, name: string, m: unknown): GpuMatrix {
    this.ctx.assertUsable(op);
    return ownMatrix(GpuMatrix, this, op, name, m);
  }

  private output(op: string, rows: number, cols: number, data?: Float32Array): GpuMatrix {
    const buffer = this.ctx.storage(`${op}#${++this.#count} ${rows}×${cols}`, rows * cols, data);
    return new GpuMatrix(this, rows, cols, buffer);
  }

  /** Submits the work, then frees what it owns (the queue keeps it alive until done). */
  private run(label: string, work: (Recording | Dispatch)[]): void {
    const recordings = work.map((w) => ('dispatches' in w ? w : recording(w)));
    this.ctx.submit(label, recordings);
    for (const r of recordings.flatMap(recordingResources)) this.ctx.release(r);
  }

  matrix(rows: number, cols: number, data?: Float32Array): Matrix {
    this.ctx.assertUsable('matrix');
    checkPositiveInt('matrix', 'rows', rows);
    checkPositiveInt('matrix', 'cols', cols);
    return this.output('matrix', rows, cols, checkMatrixData('matrix', rows, cols, data));
  }

  matmul(a: Matrix, b: Matrix, opts: MatmulOptions = {}): Matrix {
    const ma = this.arg('matmul', 'a', a);
    const mb = this.arg('matmul', 'b', b);
    const bias = opts.bias === undefined ? undefined : this.arg('matmul', 'bias', opts.bias);
    const { m, k, n } = matmulShape(ma, mb, opts);
    const c = this.output('matmul', m, n);
    const args: MatmulArgs = {
      a: ma.buffer,
      b: mb.buffer,
      c: c.buffer,
      bias: bias?.buffer,
      m,
      n,
      k,
      transposeA: opts.transposeA,
      transposeB: opts.transposeB,
      activation: opts.activation,
      scratch: true,
    };
    const product = matmulRecording(this.ctx, c.label, args, this.#tuner.tileFor(shapeOf(args)));
    // softmax is row-wise: the matmul stores the logits, then they become probabilities in place.
    const softmax =
      opts.activation === 'softmax' ? [softmaxDispatch(this.ctx, `${c.label}.softmax`, c.buffer, m, n)] : [];
    this.run('matmul', [product, ...softmax]);
    return c;
  }

  activation(kind: Activation, x: Matrix): Matrix {
    checkActivation('activation', 'kind', kind);
    const mx = this.arg('activation', 'x', x);
    const y = this.output('activation', mx.rows, mx.cols);
    if (kind === 'softmax') {
      // Row-wise and in place: y gets a copy of x first.
      const copy = { source: mx.buffer, target: y.buffer, bytes: mx.size * 4 };
      const softmax = softmaxDispatch(this.ctx, y.label, y.buffer, mx.rows, mx.cols);
      this.run('activation', [{ dispatches: [softmax], textures: [], copies: [copy] }]);
    } else {
      this.run('activation', [activationDispatch(this.ctx, y.label, kind, mx.buffer, y.buffer, mx.size)]);
    }
    return y;
  }

  activationBackward(kind: Activation, y: Matrix, dy: Matrix): Matrix {
    checkActivation('activationBackward', 'kind', kind);
    const my = this.arg('activationBackward', 'y', y);
    const mdy = this.arg('activationBackward', 'dy', dy);
    checkSameShape('activationBackward', 'y', my, 'dy', mdy);
    const dx = this.output('activationBackward', my.rows, my.cols);
    const [ctx, label] = [this.ctx, dx.label];
    this.run('activationBackward', [
      kind === 'softmax'
        ? softmaxBackwardDispatch(ctx, label, my.buffer, mdy.buffer, dx.buffer, my.rows, my.cols)
        : activationBackwardDispatch(ctx, label, kind, my.buffer, mdy.buffer, dx.buffer, my.size),
    ]);
    return dx;
  }

  biasGrad(dz: Matrix): Matrix {
    const m = this.arg('biasGrad', 'dz', dz);
    const db = this.output('biasGrad', 1, m.cols);
    this.run('biasGrad', [biasGradDispatch(this.ctx, db.label, m.buffer, db.buffer, m.rows, m.cols)]);
    return db;
  }

  mseLoss(pred: Matrix, target: Matrix): Matrix {
    const p = this.arg('mseLoss', 'pred', pred);
    const t = this.arg('mseLoss', 'target', target);
    checkSameShape('mseLoss', 'pred', p, 'target', t);
    const loss = this.output('mseLoss', 1, 1);
    const parts = this.ctx.storage(`${loss.label}.parts`, msePartCount(p.size));
    this.run('mseLoss', [
      msePartialDispatch(this.ctx, `${loss.label}.partial`, p.buffer, t.buffer, parts, p.size),
      mseFinishDispatch(this.ctx, `${loss.label}.finish`, parts, loss.buffer, p.size, 1 / p.size, false),
    ]);
    this.ctx.release(parts);
    return loss;
  }

  mseGrad(pred: Matrix, target: Matrix): Matrix {
    const p = this.arg('mseGrad', 'pred', pred);
    const t = this.arg('mseGrad', 'target', target);
    checkSameShape('mseGrad', 'pred', p, 'target', t);
    const g = this.output('mseGrad', p.rows, p.cols);
    this.run('mseGrad', [mseGradDispatch(this.ctx, g.label, p.buffer, t.buffer, g.buffer, p.size)]);
    return g;
  }

  /**
   * The cross-entropy kernel over a copy of the logits (it turns them into the softmax), with its
   * per-row results in a scratch buffer: then `finish` records what the op keeps.
   */
  private crossEntropy(op: string, logits: Matrix, target: Matrix, out: GpuMatrix, grad: boolean): void {
    const z = this.arg(op, 'logits', logits);
    const t = this.arg(op, 'target', target);
    checkSameShape(op, 'logits', z, 'target', t);
    const probs = this.ctx.storage(`${out.label}.softmax`, z.size);
    const stats = this.ctx.storage(`${out.label}.rows`, 2 * z.rows);
    try {
      const copy = { source: z.buffer, target: probs, bytes: z.size * 4 };
      const dz = grad ? { dz: out.buffer, batchRows: z.rows } : undefined;
      const rows = crossEntropyDispatch(this.ctx, out.label, probs, t.buffer, stats, z.rows, z.cols, dz);
      const mean = grad
        ? []
        : [sumDispatch(this.ctx, `${out.label}.mean`, stats, 0, z.rows, out.buffer, 1 / z.rows, false)];
      this.run(op, [{ dispatches: [rows, ...mean], textures: [], copies: [copy] }]);
    } finally {
      this.ctx.release(probs);
      this.ctx.release(stats);
    }
  }

  crossEntropyLoss(logits: Matrix, target: Matrix): Matrix {
    const loss = this.output('crossEntropyLoss', 1, 1);
    try {
      this.crossEntropy('crossEntropyLoss', logits, target, loss, false);
    } catch (e) {
      loss.dispose();
      throw e;
    }
    return loss;
  }

  crossEntropyGrad(logits: Matrix, target: Matrix): Matrix {
    const z = this.arg('crossEntropyGrad', 'logits', logits);
    const g = this.output('crossEntropyGrad', z.rows, z.cols);
    try {
      this.crossEntropy('crossEntropyGrad', logits, target, g, true);
    } catch (e) {
      g.dispose();
      throw e;
    }
    return g;
  }

  sgdUpdate(param: Matrix, grad: Matrix, learningRate: number): void {
    const p = this.arg('sgdUpdate', 'param', param);
    const g = this.arg('sgdUpdate', 'grad', grad);
    checkSameShape('sgdUpdate', 'param', p, 'grad', g);
    checkLearningRate('sgdUpdate', 'learningRate', learningRate);
    const hyper = this.ctx.uniform(`${p.label}.sgd.hyper`, hyperWords({ learningRate }).buffer as ArrayBuffer);
    const update = { param: p.buffer, grad: g.buffer, n: p.size, state: [], decay: false };
    this.run('sgdUpdate', [optimizerDispatch(this.ctx, `${p.label}.sgd`, 'sgd', hyper, update)]);
    this.ctx.release(hyper);
  }

  destroy(): void {
    this.ctx.destroy();
  }
}
