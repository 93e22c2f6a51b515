// GpuTrainer: the GPU scheduler behind Network on the WebGPU backend.
//
// Everything a step touches is made ahead of time: parameters, gradients and optimizer state when the
// network is built; activation and gradient buffers, bind groups and uniforms once per batch size (a
// Workspace and its Plans); the resident data set once per fit(). A step is then one command encoder
// with one compute pass — gather, forward (matmul + bias + activation fused), loss, loss gradient fused
// with the output activation's derivative, backward, update — and one submit. The only values written
// per step are two tiny uniforms (the batch offset, and Adam's bias corrections). Nothing is read back
// inside fit() except the epoch's summed loss, once per epoch.
import type { Activation } from '../types';
import {
  adamCorrections,
  stateSlots,
  type EpochResult,
  type FitSession,
  type LayerParams,
  type OptimizerConfig,
  type OptimizerState,
  type Snapshot,
  type Trainer,
  type TrainerInit,
} from '../trainer';
import {
  dispatchResources,
  encodeDispatch,
  paddedBytes,
  type Dispatch,
  type GpuContext,
  type GpuResource,
} from './context';
import { GpuMemoryError } from '../errors';
import { columnsDispatch } from './kernels/columns';
import { activationBackwardDispatch } from './kernels/activation';
import { biasGradDispatch } from './kernels/bias_grad';
import { gatherDispatch } from './kernels/gather';
import { matmulDispatch, writeMatmulRate } from './kernels/matmul';
import type { MatmulShape } from './autotune';
import { mseFinishDispatch, mseGradDispatch, msePartCount, msePartialDispatch } from './kernels/mse';
import { hyperWords, optimizerDispatch } from './kernels/optimizer';

/**
 * Columns col0 .. col0+cols of a layer's parameters. A layer whose weights fit one binding has a single
 * block; a larger one is split into column blocks (W_j is in × cols), each its own set of buffers.
 */
interface Block {
  col0: number;
  cols: number;
  w: GPUBuffer;
  b: GPUBuffer;
  /** dW_j; none with SGD, whose step is fused into the dW matmul (EPI_SGD) and writes W_j directly. */
  dw?: GPUBuffer;
  db: GPUBuffer;
  /** Optimizer state: W_j's tensors then b_j's (see OptimizerState). */
  slots: GPUBuffer[];
}

interface GpuLayer {
  inSize: number;
  units: number;
  activation: Activation;
  blocks: Block[];
}

/** The widest column block of an in × units layer whose weights fit a binding of `limit` bytes. */
function blockColumns(label: string, inSize: number, units: number, limit: number): number {
  if (paddedBytes(inSize * units) <= limit) return units;
  let cols = Math.floor((limit - 15) / (inSize * 4)); // paddedBytes rounds up to 16
  if (cols < 1) {
    throw new GpuMemoryError(
      `Network: ${label} (${inSize}×${units}) cannot be split to fit a binding of ${limit} bytes: a single column ` +
        `(${inSize} f32 = ${inSize * 4} bytes) is already larger`,
    );
  }
  if (cols >= 4) cols -= cols % 4; // keep blocks vec4-aligned
  return cols;
}

/** Columns col0 .. col0+cols of a row-major rows × total matrix. */
function sliceColumns(data: Float32Array, rows: number, total: number, col0: number, cols: number): Float32Array {
  if (cols === total) return data;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * total + col0, r * total + col0 + cols), r * cols);
  return out;
}

/** The dispatches of one batch size, recorded once and encoded every step. */
interface Plan {
  forward: Dispatch[];
  lossPartial: Dispatch;
  /** Adds the batch's summed squared error to the workspace's accumulator. */
  lossAccumulate: Dispatch;
  /** Training workspaces only: the batch's mean loss into `stepLoss`, and the backward pass. */
  lossMean?: Dispatch;
  backward: Dispatch[];
}

/** Activation (and, for training, gradient) buffers for up to `capacity` rows, and their plans. */
interface Workspace {
  capacity: number;
  training: boolean;
  /** acts[0] is the input batch, acts[l + 1] the output of layer l. */
  acts: GPUBuffer[];
  target: GPUBuffer;
  /** dz[l] = dZ of layer l (training only). */
  dz: GPUBuffer[];
  /** Split layers only: dA_prev summed over the blocks, before the activation derivative is applied. */
  dA?: GPUBuffer;
  parts: GPUBuffer;
  /** Summed squared error of fit's epoch or of evaluate(). */
  accumulator: GPUBuffer;
  /** Split layers only: one block's output or dZ columns, and one block's share of dA_prev. */
  blockScratch?: GPUBuffer;
  dzBlock?: GPUBuffer;
  dAPart?: GPUBuffer;
  buffers: GPUBuffer[];
  plans: Map<number, Plan>;
}

/** GPU time of a training step's phases (timestamp queries) and the CPU-timed loss readback. */
export interface PhaseTimes {
  forwardMs: number;
  backwardMs: number;
  updateMs: number;
  readbackMs: number;
}

/** Steps submitted ahead of the GPU before fit() waits: keeps the queue fed but bounded. */
const MAX_STEPS_IN_FLIGHT = 4;
/** Rows per predict()/evaluate() chunk. */
const INFER_CHUNK = 4096;

export class GpuTrainer implements Trainer {
  private readonly layers: GpuLayer[] = [];
  private readonly owned = new Set<GpuResource>();
  private readonly hyper: GPUBuffer;
  private readonly stepLoss: GPUBuffer;
  private readonly lossStaging: GPUBuffer;
  private readonly update: Dispatch[];
  /** The plans' fused-SGD matmuls, whose params carry the learning rate. */
  private readonly sgdMatmuls = new Set<Dispatch>();
  private optimizer: OptimizerConfig;
  private step = 0;
  private hyperDirty = true;
  private train?: Workspace;
  private infer?: Workspace;

  constructor(
    private readonly ctx: GpuContext,
    init: TrainerInit,
  ) {
    this.optimizer = { ...init.optimizer };
    // Everything the network itself holds, checked against the limits and budget before any allocation.
    // Layers too big for one binding are split into column blocks; each block's buffers fit one.
    const slots = stateSlots(init.optimizer);
    // SGD: W_j −= lr · A_prevᵀ · dZ_j in the dW matmul's epilogue, so no dW buffer and no update pass.
    const fusedSgd = init.optimizer.type === 'sgd';
    const weightTensors = (fusedSgd ? 1 : 2) + slots; // W, dW unless fused, optimizer state
    let fan = init.inputSize;
    const shapes = init.layers.map((spec, l) => {
      const inSize = fan;
      fan = spec.units;
      const width = blockColumns(`layer${l}.weights`, inSize, spec.units, ctx.bindingLimit);
      const blocks: { col0: number; cols: number }[] = [];
      for (let col0 = 0; col0 < spec.units; col0 += width)
        blocks.push({ col0, cols: Math.min(width, spec.units - col0) });
      return { inSize, blocks };
    });
    ctx.preflight(
      'Network',
      shapes.flatMap(({ inSize, blocks }, l) =>
        blocks.flatMap(({ cols }, j) => {
          const name = `layer${l}${blocks.length > 1 ? `.block${j}` : ''}`;
          return [
            ...Array.from({ length: weightTensors }, (_, k) => ({
              label: `${name}.weights#${k}`,
              count: inSize * cols,
            })),
            ...Array.from({ length: 2 + slots }, (_, k) => ({ label: `${name}.bias#${k}`, count: cols })),
          ];
        }),
      ),
    );
    try {
      init.layers.forEach((spec, l) => {
        const { inSize, blocks } = shapes[l];
        const { weights, bias } = init.params[l];
        this.layers.push({
          inSize,
          units: spec.units,
          activation: spec.activation,
          blocks: blocks.map(({ col0, cols }, j) => {
            const name = `layer${l}${blocks.length > 1 ? `.block${j}` : ''}`;
            const n = inSize * cols;
            return {
              col0,
              cols,
              w: this.storage(`${name}.weights`, n, sliceColumns(weights, inSize, spec.units, col0, cols)),
              b: this.storage(`${name}.bias`, cols, bias.slice(col0, col0 + cols)),
              dw: fusedSgd ? undefined : this.storage(`${name}.weights.grad`, n),
              db: this.storage(`${name}.bias.grad`, cols),
              slots: [
                ...Array.from({ length: slots }, (_, k) => this.storage(`${name}.weights.state${k}`, n)),
                ...Array.from({ length: slots }, (_, k) => this.storage(`${name}.bias.state${k}`, cols)),
              ],
            };
          }),
        });
      });
      this.hyper = this.own(ctx.uniform('optimizer.hyper', hyperWords(this.hyperValues()).buffer as ArrayBuffer));
      this.stepLoss = this.storage('loss.step', 1);
      this.lossStaging = this.own(
        ctx.createBuffer('loss.readback', 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
      );
      this.update = this.layers.flatMap((layer) =>
        layer.blocks.flatMap((block) => {
          const k = slots;
          const kind = this.optimizer.type;
          return [
            ...(block.dw
              ? [
                  optimizerDispatch(
                    ctx,
                    `${block.w.label}.update`,
                    kind,
                    block.w,
                    block.dw,
                    layer.inSize * block.cols,
                    this.hyper,
                    block.slots[0],
                    block.slots[1],
                  ),
                ]
              : []),
            optimizerDispatch(
              ctx,
              `${block.b.label}.update`,
              kind,
              block.b,
              block.db,
              block.cols,
              this.hyper,
              block.slots[k],
              block.slots[k + 1],
            ),
          ].map((d) => this.ownDispatch(d));
        }),
      );
    } catch (e) {
      this.destroy(); // never leave a half-built network behind
      throw e;
    }
  }

  // ---- buffers ---------------------------------------------------------------------------------

  private own<R extends GpuResource>(resource: R): R {
    this.owned.add(resource);
    return resource;
  }

  private ownDispatch(d: Dispatch): Dispatch {
    for (const r of dispatchResources(d)) this.own(r);
    return d;
  }

  private storage(label: string, count: number, data?: Float32Array): GPUBuffer {
    return this.own(this.ctx.storage(label, count, data));
  }

  private free(resources: Iterable<GpuResource>): void {
    for (const r of resources) {
      this.owned.delete(r);
      this.ctx.release(r);
    }
  }

  private get outUnits(): number {
    return this.layers[this.layers.length - 1].units;
  }

  private hyperValues() {
    const o = this.optimizer;
    const { c1, c2 } = adamCorrections(o, this.step + 1);
    if (o.type === 'momentum') return { learningRate: o.learningRate, beta1: o.momentum };
    if (o.type === 'adam')
      return { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, c1, c2 };
    return { learningRate: o.learningRate };
  }

  /** Writes the optimizer's per-step values when they change (every step for Adam). */
  private prepareUpdate(): void {
    if (this.hyperDirty || this.optimizer.type === 'adam') {
      this.ctx.device.queue.writeBuffer(this.hyper, 0, hyperWords(this.hyperValues()));
      for (const d of this.sgdMatmuls) writeMatmulRate(this.ctx, d, this.optimizer.learningRate);
      this.hyperDirty = false;
    }
  }

  // ---- workspaces and plans ---------------------------------------------------------------------

  /** A workspace holding at least `rows` rows; a bigger batch replaces it (and its plans). */
  private workspace(training: boolean, rows: number): Workspace {
    const current = training ? this.train : this.infer;
    if (current && current.capacity >= rows) return current;
    const ws = this.makeWorkspace(training, rows);
    if (current) this.dropWorkspace(current);
    if (training) this.train = ws;
    else this.infer = ws;
    return ws;
  }

  private makeWorkspace(training: boolean, capacity: number): Workspace {
    const tag = training ? 'train' : 'infer';
    const split = this.layers.filter((l) => l.blocks.length > 1);
    const widestBlock = Math.max(0, ...split.map((l) => l.blocks[0].cols));
    // dA_prev needs a buffer of its own only for split layers (a whole layer's goes straight into dZ_prev).
    const splitInput = Math.max(0, ...split.filter((l) => l !== this.layers[0]).map((l) => l.inSize));
    this.ctx.preflight(`a batch of ${capacity} rows`, [
      ...(widestBlock ? [{ label: `${tag}.block`, count: capacity * widestBlock * (training ? 2 : 1) }] : []),
      ...(training && splitInput ? [{ label: `${tag}.dA.part`, count: capacity * splitInput }] : []),
      { label: `${tag}.input`, count: capacity * this.layers[0].inSize },
      ...this.layers.map((l, i) => ({ label: `${tag}.layer${i}.out`, count: capacity * l.units * (training ? 2 : 1) })),
      { label: `${tag}.target`, count: capacity * this.outUnits },
      ...(training && splitInput ? [{ label: `${tag}.dA`, count: capacity * splitInput }] : []),
    ]);
    const made: GPUBuffer[] = [];
    const alloc = (label: string, count: number) => {
      const b = this.storage(`${tag}.${label}`, count);
      made.push(b);
      return b;
    };
    try {
      const acts = [
        alloc('input', capacity * this.layers[0].inSize),
        ...this.layers.map((l, i) => alloc(`layer${i}.out`, capacity * l.units)),
      ];
      const dz = training ? this.layers.map((l, i) => alloc(`layer${i}.dz`, capacity * l.units)) : [];
      return {
        capacity,
        training,
        acts,
        target: alloc('target', capacity * this.outUnits),
        dz,
        dA: training && splitInput ? alloc('dA', capacity * splitInput) : undefined,
        parts: alloc('loss.parts', msePartCount(capacity * this.outUnits)),
        accumulator: alloc('loss.sum', 1),
        blockScratch: widestBlock ? alloc('block.out', capacity * widestBlock) : undefined,
        dzBlock: training && widestBlock ? alloc('block.dz', capacity * widestBlock) : undefined,
        dAPart: training && splitInput ? alloc('dA.part', capacity * splitInput) : undefined,
        buffers: made,
        plans: new Map(),
      };
    } catch (e) {
      this.free(made);
      throw e;
    }
  }

  private dropWorkspace(ws: Workspace): void {
    for (const plan of ws.plans.values()) {
      for (const d of plan.backward) this.sgdMatmuls.delete(d);
      this.free(planDispatches(plan).flatMap(dispatchResources));
    }
    this.free(ws.buffers);
  }

  /** The matmuls a plan for `rows` rows runs (forward; and dW, dA_prev when training). */
  private matmulShapes(rows: number, training: boolean): MatmulShape[] {
    return this.layers.flatMap((l, i) =>
      l.blocks.flatMap(({ cols }) => [
        { m: rows, k: l.inSize, n: cols },
        ...(training ? [{ m: l.inSize, k: rows, n: cols, transposeA: true }] : []),
        ...(training && i > 0 ? [{ m: rows, k: cols, n: l.inSize, transposeB: true }] : []),
      ]),
    );
  }

  /** Lets the tuner pick variants for a plan's matmuls before the plan is recorded (first use only). */
  private async tune(ws: Workspace, rows: number): Promise<void> {
    if (ws.plans.has(rows)) return;
    for (const shape of this.matmulShapes(rows, ws.training)) await this.ctx.tuner.tune(shape);
  }

  private plan(ws: Workspace, rows: number): Plan {
    let plan = ws.plans.get(rows);
    if (plan) return plan;
    const tile = (shape: MatmulShape) => this.ctx.tuner.tileFor(shape);
    const ctx = this.ctx;
    const L = this.layers.length;
    const outCount = rows * this.outUnits;
    const forward: Dispatch[] = [];
    const backward: Dispatch[] = [];
    // A matmul may allocate a packed texture, which can fail the memory budget: then nothing made here stays.
    try {
      this.layers.forEach((layer, l) => {
        for (const block of layer.blocks) {
          const whole = layer.blocks.length === 1;
          const shape = { m: rows, k: layer.inSize, n: block.cols };
          // A split layer computes each block into scratch, then scatters it into its columns of A_l.
          forward.push(
            matmulDispatch(
              ctx,
              `${block.w.label}.forward`,
              {
                a: ws.acts[l],
                b: block.w,
                bias: block.b,
                c: whole ? ws.acts[l + 1] : ws.blockScratch!,
                ...shape,
                activation: layer.activation,
              },
              tile(shape),
            ),
          );
          if (!whole) {
            forward.push(
              columnsDispatch(
                ctx,
                `${block.w.label}.scatter`,
                { buffer: ws.blockScratch!, stride: block.cols, offset: 0 },
                { buffer: ws.acts[l + 1], stride: layer.units, offset: block.col0 },
                rows,
                block.cols,
              ),
            );
          }
        }
      });
      if (ws.training) {
        const last = this.layers[L - 1];
        // dZ_L = 2 (A_L - Y) / (rows · units) ⊙ f'(A_L): the loss gradient fused with the activation's.
        backward.push(
          mseGradDispatch(ctx, 'loss.grad', ws.acts[L], ws.target, ws.dz[L - 1], outCount, last.activation),
        );
        for (let l = L - 1; l >= 0; l--) {
          const layer = this.layers[l];
          const whole = layer.blocks.length === 1;
          // A whole layer's dA_prev matmul applies f'(A_prev) as it stores, giving dZ_prev at once.
          const fuseDerivative = whole && l > 0;
          layer.blocks.forEach((block, j) => {
            // This block's columns of dZ (a split layer gathers them into scratch first).
            const dz = whole ? ws.dz[l] : ws.dzBlock!;
            if (!whole) {
              backward.push(
                columnsDispatch(
                  ctx,
                  `${block.w.label}.gather`,
                  { buffer: ws.dz[l], stride: layer.units, offset: block.col0 },
                  { buffer: dz, stride: block.cols, offset: 0 },
                  rows,
                  block.cols,
                ),
              );
            }
            // dA_prev = Σ_j dZ_j · W_jᵀ: the first block writes it, the others add their share. It runs
            // before dW, which with fused SGD overwrites W_j.
            if (l > 0) {
              const daShape = { m: rows, k: block.cols, n: layer.inSize, transposeB: true };
              const prev = this.layers[l - 1].activation;
              backward.push(
                matmulDispatch(
                  ctx,
                  `${block.w.label}.input.grad`,
                  fuseDerivative
                    ? { a: dz, b: block.w, c: ws.dz[l - 1], derivativeOf: ws.acts[l], activation: prev, ...daShape }
                    : { a: dz, b: block.w, c: j === 0 ? ws.dA! : ws.dAPart!, ...daShape },
                  tile(daShape),
                ),
              );
              if (j > 0) {
                backward.push(
                  columnsDispatch(
                    ctx,
                    `${block.w.label}.input.grad.add`,
                    { buffer: ws.dAPart!, stride: layer.inSize, offset: 0 },
                    { buffer: ws.dA!, stride: layer.inSize, offset: 0 },
                    rows,
                    layer.inSize,
                    true,
                  ),
                );
              }
            }
            const dwShape = { m: layer.inSize, k: rows, n: block.cols, transposeA: true };
            const dw = block.dw
              ? matmulDispatch(
                  ctx,
                  `${block.w.label}.grad`,
                  { a: ws.acts[l], b: dz, c: block.dw, ...dwShape },
                  tile(dwShape),
                )
              : matmulDispatch(
                  ctx,
                  `${block.w.label}.sgd`,
                  { a: ws.acts[l], b: dz, c: block.w, sgdRate: this.optimizer.learningRate, ...dwShape },
                  tile(dwShape),
                );
            if (!block.dw) this.sgdMatmuls.add(dw);
            backward.push(dw, biasGradDispatch(ctx, `${block.b.label}.grad`, dz, block.db, rows, block.cols));
          });
          if (l > 0 && !fuseDerivative) {
            backward.push(
              activationBackwardDispatch(
                ctx,
                `layer${l - 1}.dz`,
                this.layers[l - 1].activation,
                ws.acts[l],
                ws.dA!,
                ws.dz[l - 1],
                rows * layer.inSize,
              ),
            );
          }
        }
      }
    } catch (e) {
      for (const d of backward) this.sgdMatmuls.delete(d);
      this.free([...forward, ...backward].flatMap(dispatchResources));
      throw e;
    }
    plan = {
      forward,
      lossPartial: msePartialDispatch(ctx, 'loss.partial', ws.acts[L], ws.target, ws.parts, outCount),
      lossAccumulate: mseFinishDispatch(ctx, 'loss.accumulate', ws.parts, ws.accumulator, outCount, 1, true),
      lossMean: ws.training
        ? mseFinishDispatch(ctx, 'loss.mean', ws.parts, this.stepLoss, outCount, 1 / outCount, false)
        : undefined,
      backward,
    };
    for (const d of planDispatches(plan)) this.ownDispatch(d);
    ws.plans.set(rows, plan);
    return plan;
  }

  /** Records one training step: [gather,] forward, loss, backward, update — one compute pass. */
  private encodeStep(encoder: GPUCommandEncoder, plan: Plan, loss: Dispatch, gather: Dispatch[] = []): void {
    const pass = encoder.beginComputePass({ label: 'train.step' });
    for (const d of [...gather, ...plan.forward, plan.lossPartial, loss, ...plan.backward, ...this.update]) {
      encodeDispatch(pass, d);
    }
    pass.end();
  }

  private write(buffer: GPUBuffer, data: Float32Array | Uint32Array, offset = 0): void {
    this.ctx.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Maps a MAP_READ buffer, copies `count` floats out, unmaps; surfaces GPU errors and device loss. */
  private async readStaging(staging: GPUBuffer, count: number): Promise<Float32Array> {
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      throw await this.ctx.failure(`read of '${staging.label}'`, e);
    }
    const out = new Float32Array(staging.getMappedRange(0, count * 4).slice(0));
    staging.unmap();
    this.ctx.throwPending();
    return out;
  }

  // ---- Trainer ---------------------------------------------------------------------------------

  /**
   * One training step with its phases in separate passes, timed by GPU timestamp queries: forward
   * (with the loss), backward (with the loss gradient), update; then the loss readback, timed on the
   * CPU. For the benchmark: undefined when the adapter has no 'timestamp-query'. Allocates its query
   * objects, so it is not for the training loop.
   */
  async profileStep(x: Float32Array, y: Float32Array, rows: number): Promise<PhaseTimes | undefined> {
    const device = this.ctx.device;
    if (!device.features.has('timestamp-query')) return undefined;
    const ws = this.workspace(true, rows);
    await this.tune(ws, rows);
    const plan = this.plan(ws, rows);
    this.write(ws.acts[0], x);
    this.write(ws.target, y);
    this.prepareUpdate();
    const querySet = device.createQuerySet({ label: 'profile.timestamps', type: 'timestamp', count: 6 });
    const resolved = this.ctx.createBuffer(
      'profile.resolve',
      48,
      GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    );
    const staging = this.ctx.createBuffer('profile.readback', 48, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      const encoder = device.createCommandEncoder({ label: 'profileStep' });
      const phases = [[...plan.forward, plan.lossPartial, plan.lossMean!], plan.backward, this.update];
      phases.forEach((dispatches, i) => {
        const pass = encoder.beginComputePass({
          label: `profile.phase${i}`,
          timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
        });
        for (const d of dispatches) encodeDispatch(pass, d);
        pass.end();
      });
      encoder.copyBufferToBuffer(this.stepLoss, 0, this.lossStaging, 0, 16);
      encoder.resolveQuerySet(querySet, 0, 6, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, staging, 0, 48);
      device.queue.submit([encoder.finish()]);
      this.step++;
      await device.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      await this.readStaging(this.lossStaging, 1);
      const readbackMs = performance.now() - t0;
      await staging.mapAsync(GPUMapMode.READ);
      const ns = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      const ms = (i: number) => Number(ns[2 * i + 1] - ns[2 * i]) / 1e6;
      return { forwardMs: ms(0), backwardMs: ms(1), updateMs: ms(2), readbackMs };
    } finally {
      querySet.destroy();
      this.ctx.destroyBuffer(resolved);
      this.ctx.destroyBuffer(staging);
    }
  }

  async trainStep(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    const ws = this.workspace(true, rows);
    await this.tune(ws, rows);
    const plan = this.plan(ws, rows);
    await this.ctx.checkAllocations();
    this.write(ws.acts[0], x);
    this.write(ws.target, y);
    this.prepareUpdate();
    const encoder = this.ctx.device.createCommandEncoder({ label: 'trainStep' });
    this.encodeStep(encoder, plan, plan.lossMean!);
    encoder.copyBufferToBuffer(this.stepLoss, 0, this.lossStaging, 0, 16);
    this.ctx.device.queue.submit([encoder.finish()]);
    this.step++;
    return (await this.readStaging(this.lossStaging, 1))[0];
  }

  beginFit(x: Float32Array, y: Float32Array, rows: number): FitSession {
    const ctx = this.ctx;
    const inSize = this.layers[0].inSize;
    const out = this.outUnits;
    const made: GPUBuffer[] = [];
    const keep = (b: GPUBuffer) => {
      made.push(this.own(b));
      return b;
    };
    let gathers: Map<number, Dispatch[]>;
    let order: GPUBuffer;
    let offset: GPUBuffer;
    let dataX: GPUBuffer;
    let dataY: GPUBuffer;
    let staging: GPUBuffer;
    ctx.preflight('fit: the training set', [
      { label: 'fit.x', count: rows * inSize },
      { label: 'fit.y', count: rows * out },
      { label: 'fit.order', count: rows },
    ]);
    try {
      // The whole training set stays on the GPU for the length of fit(); batches are gathered there.
      dataX = keep(ctx.storage('fit.x', rows * inSize, x));
      dataY = keep(ctx.storage('fit.y', rows * out, y));
      order = keep(ctx.createBuffer('fit.order', paddedBytes(rows), GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST));
      offset = keep(ctx.uniform('fit.batchOffset', new ArrayBuffer(16)));
      // One readback per epoch brings the summed loss and the snapshot (weights and optimizer state).
      staging = keep(
        ctx.createBuffer(
          'fit.epoch.readback',
          16 + this.snapshotFloats() * 4,
          GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        ),
      );
      gathers = new Map();
    } catch (e) {
      this.free(made);
      throw e;
    }
    const gatherFor = (ws: Workspace, n: number): Dispatch[] => {
      let g = gathers.get(n);
      if (!g) {
        g = [
          gatherDispatch(ctx, 'fit.gather.x', dataX, order, ws.acts[0], offset, n, inSize),
          gatherDispatch(ctx, 'fit.gather.y', dataY, order, ws.target, offset, n, out),
        ];
        g.forEach((d) => keep(d.uniform));
        gathers.set(n, g);
      }
      return g;
    };
    let workspace: Workspace | undefined;
    return {
      runEpoch: async (perm, batchSize, shouldStop): Promise<EpochResult> => {
        const ws = this.workspace(true, Math.min(batchSize, rows));
        if (ws !== workspace) {
          // A new workspace means new batch buffers: the gathers must write into them.
          for (const g of gathers.values()) this.free(g.map((d) => d.uniform));
          gathers.clear();
          workspace = ws;
        }
        await this.tune(ws, Math.min(batchSize, rows));
        if (rows % batchSize) await this.tune(ws, rows % batchSize);
        await ctx.checkAllocations();
        this.write(order, perm);
        const inFlight: Promise<undefined>[] = [];
        let steps = 0;
        let seen = 0;
        const clear = ctx.device.createCommandEncoder({ label: 'fit.epoch.start' });
        clear.clearBuffer(ws.accumulator);
        ctx.device.queue.submit([clear.finish()]);
        for (let start = 0; start < rows; start += batchSize) {
          if (shouldStop()) break;
          if (ctx.lost) throw ctx.lost; // submits to a lost device are silently dropped: stop at once
          const n = Math.min(batchSize, rows - start);
          const plan = this.plan(ws, n);
          this.write(offset, Uint32Array.of(start));
          this.prepareUpdate();
          const encoder = ctx.device.createCommandEncoder({ label: 'fit.step' });
          this.encodeStep(encoder, plan, plan.lossAccumulate, gatherFor(ws, n));
          ctx.device.queue.submit([encoder.finish()]);
          this.step++;
          steps++;
          seen += n;
          // Not a readback: waits only for a step submitted MAX_STEPS_IN_FLIGHT steps ago, so the GPU
          // always has work queued while abort signals and the page still get a turn.
          inFlight.push(ctx.device.queue.onSubmittedWorkDone());
          if (inFlight.length > MAX_STEPS_IN_FLIGHT) await inFlight.shift();
        }
        const copy = ctx.device.createCommandEncoder({ label: 'fit.epoch.end' });
        copy.copyBufferToBuffer(ws.accumulator, 0, staging, 0, 16);
        this.copySnapshot(copy, staging, 16);
        ctx.device.queue.submit([copy.finish()]);
        const data = await this.readStaging(staging, 4 + this.snapshotFloats());
        return { loss: seen === 0 ? NaN : data[0] / (seen * out), steps, snapshot: this.decodeSnapshot(data, 4) };
      },
      end: () => this.free(made),
    };
  }

  /**
   * Runs the forward pass over `rows` rows in chunks on the inference workspace. For each chunk,
   * `extra` may add dispatches to the pass and `after` commands to the encoder.
   */
  private forwardChunks(
    x: Float32Array,
    rows: number,
    y: Float32Array | undefined,
    after: (encoder: GPUCommandEncoder, ws: Workspace, start: number, n: number) => void,
  ): Workspace {
    const chunk = Math.min(rows, INFER_CHUNK);
    const ws = this.workspace(false, chunk);
    const inSize = this.layers[0].inSize;
    const out = this.outUnits;
    for (let start = 0; start < rows; start += chunk) {
      const n = Math.min(chunk, rows - start);
      const plan = this.plan(ws, n);
      this.write(ws.acts[0], x.subarray(start * inSize, (start + n) * inSize));
      if (y) this.write(ws.target, y.subarray(start * out, (start + n) * out));
      const encoder = this.ctx.device.createCommandEncoder({ label: 'infer.chunk' });
      if (y && start === 0) encoder.clearBuffer(ws.accumulator);
      const pass = encoder.beginComputePass({ label: 'infer.forward' });
      for (const d of plan.forward) encodeDispatch(pass, d);
      if (y) {
        encodeDispatch(pass, plan.lossPartial);
        encodeDispatch(pass, plan.lossAccumulate);
      }
      pass.end();
      after(encoder, ws, start, n);
      this.ctx.device.queue.submit([encoder.finish()]);
    }
    return ws;
  }

  /** Makes the inference workspace for `rows` rows and tunes its plans before forwardChunks records them. */
  private async prepareInference(rows: number): Promise<void> {
    const chunk = Math.min(rows, INFER_CHUNK);
    const ws = this.workspace(false, chunk);
    await this.tune(ws, chunk);
    if (rows % chunk) await this.tune(ws, rows % chunk);
    await this.ctx.checkAllocations();
  }

  async predict(x: Float32Array, rows: number): Promise<Float32Array> {
    await this.prepareInference(rows);
    const out = this.outUnits;
    const staging = this.ctx.createBuffer(
      'predict.readback',
      paddedBytes(rows * out),
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    try {
      this.forwardChunks(x, rows, undefined, (encoder, ws, start, n) => {
        const bytes = Math.ceil((n * out * 4) / 4) * 4;
        encoder.copyBufferToBuffer(ws.acts[ws.acts.length - 1], 0, staging, start * out * 4, bytes);
      });
      return await this.readStaging(staging, rows * out);
    } finally {
      this.ctx.destroyBuffer(staging);
    }
  }

  async evaluate(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    await this.prepareInference(rows);
    const staging = this.ctx.createBuffer('evaluate.readback', 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      this.forwardChunks(x, rows, y, (encoder, ws, start, n) => {
        if (start + n === rows) encoder.copyBufferToBuffer(ws.accumulator, 0, staging, 0, 16);
      });
      return (await this.readStaging(staging, 1))[0] / (rows * this.outUnits);
    } finally {
      this.ctx.destroyBuffer(staging);
    }
  }

  /**
   * The logical tensors of a layer, in snapshot order — W, b, then the optimizer state (W's, then b's) —
   * each as its per-block buffers and whether it is W-shaped (in × cols) or b-shaped (1 × cols).
   */
  private layerTensors(l: GpuLayer): { wide: boolean; buffers: GPUBuffer[] }[] {
    const k = l.blocks[0].slots.length / 2;
    return [
      { wide: true, buffers: l.blocks.map((b) => b.w) },
      { wide: false, buffers: l.blocks.map((b) => b.b) },
      ...Array.from({ length: 2 * k }, (_, j) => ({ wide: j < k, buffers: l.blocks.map((b) => b.slots[j]) })),
    ];
  }

  private snapshotFloats(): number {
    return this.layers.reduce(
      (sum, l) => sum + this.layerTensors(l).reduce((t, x) => t + (x.wide ? l.inSize : 1) * l.units, 0),
      0,
    );
  }

  /** Copies every block of every tensor into `staging`, block after block, from byteOffset on. */
  private copySnapshot(encoder: GPUCommandEncoder, staging: GPUBuffer, byteOffset: number): void {
    for (const l of this.layers) {
      for (const t of this.layerTensors(l)) {
        t.buffers.forEach((buffer, j) => {
          const bytes = (t.wide ? l.inSize : 1) * l.blocks[j].cols * 4;
          encoder.copyBufferToBuffer(buffer, 0, staging, byteOffset, bytes);
          byteOffset += bytes;
        });
      }
    }
  }

  /** Reassembles the copied blocks into whole row-major tensors. */
  private decodeSnapshot(data: Float32Array, offset: number): Snapshot {
    const params: LayerParams[] = [];
    const slots: Float32Array[][] = [];
    for (const l of this.layers) {
      const tensors = this.layerTensors(l).map((t) => {
        const rows = t.wide ? l.inSize : 1;
        const whole = new Float32Array(rows * l.units);
        for (const block of l.blocks) {
          const part = data.subarray(offset, (offset += rows * block.cols));
          for (let r = 0; r < rows; r++)
            whole.set(part.subarray(r * block.cols, (r + 1) * block.cols), r * l.units + block.col0);
        }
        return whole;
      });
      params.push({ weights: tensors[0], bias: tensors[1] });
      slots.push(tensors.slice(2));
    }
    return { params, state: { step: this.step, slots } };
  }

  async snapshot(): Promise<Snapshot> {
    const staging = this.ctx.createBuffer(
      'snapshot.readback',
      Math.max(16, this.snapshotFloats() * 4),
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    try {
      const encoder = this.ctx.device.createCommandEncoder({ label: 'snapshot' });
      this.copySnapshot(encoder, staging, 0);
      this.ctx.device.queue.submit([encoder.finish()]);
      return this.decodeSnapshot(await this.readStaging(staging, this.snapshotFloats()), 0);
    } finally {
      this.ctx.destroyBuffer(staging);
    }
  }

  restore(params: LayerParams[], state?: OptimizerState): void {
    this.layers.forEach((l, i) => {
      const whole = [params[i].weights, params[i].bias, ...(state ? state.slots[i] : [])];
      this.layerTensors(l)
        .slice(0, whole.length)
        .forEach((t, k) => {
          const rows = t.wide ? l.inSize : 1;
          l.blocks.forEach((block, j) =>
            this.write(t.buffers[j], sliceColumns(whole[k], rows, l.units, block.col0, block.cols)),
          );
        });
    });
    if (state) {
      this.step = state.step;
      this.hyperDirty = true;
    }
  }

  setLearningRate(learningRate: number): void {
    this.optimizer = { ...this.optimizer, learningRate };
    this.hyperDirty = true;
  }

  destroy(): void {
    this.free([...this.owned]);
    this.train = undefined;
    this.infer = undefined;
  }
}

function planDispatches(plan: Plan): Dispatch[] {
  return [
    ...plan.forward,
    plan.lossPartial,
    plan.lossAccumulate,
    ...(plan.lossMean ? [plan.lossMean] : []),
    ...plan.backward,
  ];
}
