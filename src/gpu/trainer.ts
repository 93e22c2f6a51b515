// GpuTrainer: the Trainer of the WebGPU backend. It orchestrates: the parameters (params.ts) are made
// with the network; workspaces (workspace.ts) and their plans (plan.ts) once per batch size; a fit()
// data set once per call (fit.ts). A step is then one command encoder with one compute pass — gather,
// forward, loss, backward, update — and one submit. The only values written per step are two tiny
// uniforms (the batch offset, and Adam's bias corrections). Nothing is read back inside fit() except
// the epoch's summed loss, once per epoch.
import {
  adamCorrections,
  type FitSession,
  type LayerParams,
  type OptimizerConfig,
  type OptimizerState,
  type PhaseTimes,
  type Snapshot,
  type Trainer,
  type TrainerSpec,
} from '../trainer';
import type { MatmulTuner } from './autotune';
import type { GpuContext } from './context';
import { type Dispatch, encodeDispatch, type GpuResource, paddedBytes } from './dispatch';
import { GpuFitSession, type StepHost } from './fit';
import { type MatmulShape, writeMatmulRate } from './kernels/matmul_args';
import { hyperWords, optimizerDispatch } from './kernels/optimizer';
import { type GpuLayer, ParamBuffers } from './params';
import { buildPlan, type Plan, planMatmuls } from './plan';
import { profileStep } from './profiler';
import { makeWorkspace, type Workspace } from './workspace';

/** Rows per predict()/evaluate() chunk. */
const INFER_CHUNK = 4096;

export class GpuTrainer implements Trainer, StepHost {
  readonly hostResident = false;
  readonly params: ParamBuffers;
  private readonly owned = new Set<GpuResource>();
  private readonly hyper: GPUBuffer;
  private readonly stepLoss: GPUBuffer;
  private readonly lossStaging: GPUBuffer;
  private readonly update: Dispatch[] = [];
  private readonly plans = new Map<Workspace, Map<number, Plan>>();
  private optimizer: OptimizerConfig;
  private step = 0;
  private hyperDirty = true;
  private train?: Workspace;
  private infer?: Workspace;

  constructor(
    readonly ctx: GpuContext,
    private readonly tuner: MatmulTuner,
    spec: TrainerSpec,
  ) {
    this.optimizer = { ...spec.optimizer };
    // SGD: W_j −= lr · A_prevᵀ · dZ_j in the dW matmul's store, so no dW buffer and no weight-update pass.
    const fusedSgd = spec.optimizer.type === 'sgd';
    this.params = new ParamBuffers(ctx, spec, fusedSgd);
    for (const b of this.params.buffers) this.owned.add(b);
    try {
      this.hyper = this.own(ctx.uniform('optimizer.hyper', hyperWords(this.hyperValues()).buffer as ArrayBuffer));
      [this.stepLoss] = ctx.allocate('Network', [{ label: 'loss.step', count: 1 }]).map((b) => this.own(b));
      const usage = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
      this.lossStaging = this.own(ctx.createBuffer('loss.readback', 16, usage));
      const kind = this.optimizer.type;
      for (const layer of this.params.layers) {
        for (const block of layer.blocks) {
          const { w, dw, b, db, state } = block;
          if (dw) {
            const n = layer.inSize * block.cols;
            this.update.push(optimizerDispatch(ctx, `${w.label}.update`, kind, w, dw, n, this.hyper, ...state.w));
          }
          this.update.push(
            optimizerDispatch(ctx, `${b.label}.update`, kind, b, db, block.cols, this.hyper, ...state.b),
          );
        }
      }
      for (const d of this.update) this.own(d.uniform);
    } catch (e) {
      this.destroy(); // never leave a half-built network behind
      throw e;
    }
  }

  own<R extends GpuResource>(resource: R): R {
    this.owned.add(resource);
    return resource;
  }

  free(resources: Iterable<GpuResource>): void {
    for (const r of resources) {
      this.owned.delete(r);
      this.ctx.release(r);
    }
  }

  private get layers(): GpuLayer[] {
    return this.params.layers;
  }

  get inSize(): number {
    return this.layers[0].inSize;
  }

  get outUnits(): number {
    return this.layers[this.layers.length - 1].units;
  }

  private hyperValues() {
    const o = this.optimizer;
    const { c1, c2 } = adamCorrections(o, this.step + 1);
    if (o.type === 'momentum') return { learningRate: o.learningRate, beta1: o.momentum };
    if (o.type === 'adam') {
      return { learningRate: o.learningRate, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, c1, c2 };
    }
    return { learningRate: o.learningRate };
  }

  // ---- workspaces and plans (StepHost) ------------------------------------------------------------

  async prepare(training: boolean, rows: number, batchRows: number[]): Promise<Workspace> {
    const current = training ? this.train : this.infer;
    let ws = current;
    if (!ws || ws.capacity < rows) {
      // A bigger batch replaces the workspace, and its plans with it.
      ws = makeWorkspace(this.ctx, this.layers, training, rows);
      this.plans.set(ws, new Map());
      for (const b of ws.buffers) this.own(b);
      if (current) this.dropWorkspace(current);
      if (training) this.train = ws;
      else this.infer = ws;
    }
    // Lets the tuner pick variants for the plans' matmuls before they are recorded (first use only).
    for (const n of batchRows) {
      if (this.plans.get(ws)?.has(n)) continue;
      for (const shape of planMatmuls(this.layers, n, training)) await this.tuner.tune(shape);
    }
    await this.ctx.checkAllocations();
    return ws;
  }

  private dropWorkspace(ws: Workspace): void {
    for (const plan of this.plans.get(ws)?.values() ?? []) this.free(plan.resources);
    this.plans.delete(ws);
    this.free(ws.buffers);
  }

  plan(ws: Workspace, rows: number): Plan {
    const plans = this.plans.get(ws) as Map<number, Plan>;
    let plan = plans.get(rows);
    if (!plan) {
      const { ctx, layers, stepLoss } = this;
      const tileFor = (shape: MatmulShape) => this.tuner.tileFor(shape);
      const sgdRate = this.optimizer.type === 'sgd' ? this.optimizer.learningRate : undefined;
      plan = buildPlan({ ctx, tileFor, layers, ws, rows, sgdRate, stepLoss });
      for (const r of plan.resources) this.own(r);
      plans.set(rows, plan);
    }
    return plan;
  }

  encodeStep(encoder: GPUCommandEncoder, plan: Plan, loss: Dispatch, gather: Dispatch[] = []): void {
    const pass = encoder.beginComputePass({ label: 'train.step' });
    for (const d of [...gather, ...plan.forward, plan.lossPartial, loss, ...plan.backward, ...this.update]) {
      encodeDispatch(pass, d);
    }
    pass.end();
  }

  submitStep(encoder: GPUCommandEncoder): void {
    // The optimizer's per-step values, written when they change (every step for Adam); queue order puts
    // the write before the step.
    if (this.hyperDirty || this.optimizer.type === 'adam') {
      this.ctx.device.queue.writeBuffer(this.hyper, 0, hyperWords(this.hyperValues()));
      if (this.optimizer.type === 'sgd') {
        for (const plans of this.plans.values()) {
          for (const plan of plans.values()) {
            for (const r of plan.sgdMatmuls) writeMatmulRate(this.ctx, r, this.optimizer.learningRate);
          }
        }
      }
      this.hyperDirty = false;
    }
    this.ctx.device.queue.submit([encoder.finish()]);
    this.step++;
  }

  /** Maps a MAP_READ buffer, copies `count` floats out, unmaps; surfaces GPU errors and device loss. */
  async readStaging(staging: GPUBuffer, count: number): Promise<Float32Array> {
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

  snapshotAfter(data: Float32Array, offset: number): Snapshot {
    return this.params.decodeSnapshot(data, offset, this.step);
  }

  private write(buffer: GPUBuffer, data: Float32Array): void {
    this.ctx.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  // ---- Trainer ------------------------------------------------------------------------------------

  async trainStep(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    const ws = await this.prepare(true, rows, [rows]);
    const plan = this.plan(ws, rows);
    this.write(ws.acts[0], x);
    this.write(ws.target, y);
    const encoder = this.ctx.device.createCommandEncoder({ label: 'trainStep' });
    this.encodeStep(encoder, plan, plan.lossMean as Dispatch);
    encoder.copyBufferToBuffer(this.stepLoss, 0, this.lossStaging, 0, 16);
    this.submitStep(encoder);
    return (await this.readStaging(this.lossStaging, 1))[0];
  }

  beginFit(x: Float32Array, y: Float32Array, rows: number): FitSession {
    return new GpuFitSession(this, x, y, rows);
  }

  profileStep(x: Float32Array, y: Float32Array, rows: number): Promise<PhaseTimes | undefined> {
    return profileStep(this, this.update, this.stepLoss, x, y, rows);
  }

  /**
   * The forward pass over `rows` rows in chunks on the inference workspace (and the loss when y is
   * given); `after` may add commands to each chunk's encoder.
   */
  private async forwardChunks(
    x: Float32Array,
    rows: number,
    y: Float32Array | undefined,
    after: (encoder: GPUCommandEncoder, ws: Workspace, start: number, n: number) => void,
  ): Promise<void> {
    const chunk = Math.min(rows, INFER_CHUNK);
    const ws = await this.prepare(false, chunk, rows % chunk ? [chunk, rows % chunk] : [chunk]);
    const { inSize, outUnits: out } = this;
    for (let start = 0; start < rows; start += chunk) {
      const n = Math.min(chunk, rows - start);
      const plan = this.plan(ws, n);
      this.write(ws.acts[0], x.subarray(start * inSize, (start + n) * inSize));
      if (y) this.write(ws.target, y.subarray(start * out, (start + n) * out));
      const encoder = this.ctx.device.createCommandEncoder({ label: 'infer.chunk' });
      if (y && start === 0) encoder.clearBuffer(ws.accumulator);
      const pass = encoder.beginComputePass({ label: 'infer.forward' });
      for (const d of [...plan.forward, ...(y ? [plan.lossPartial, plan.lossAccumulate] : [])]) encodeDispatch(pass, d);
      pass.end();
      after(encoder, ws, start, n);
      this.ctx.device.queue.submit([encoder.finish()]);
    }
  }

  private async readback<T>(label: string, bytes: number, run: (staging: GPUBuffer) => Promise<T>): Promise<T> {
    const staging = this.ctx.createBuffer(label, bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      return await run(staging);
    } finally {
      this.ctx.release(staging);
    }
  }

  async predict(x: Float32Array, rows: number): Promise<Float32Array> {
    const out = this.outUnits;
    return this.readback('predict.readback', paddedBytes(rows * out), async (staging) => {
      await this.forwardChunks(x, rows, undefined, (encoder, ws, start, n) => {
        encoder.copyBufferToBuffer(ws.acts[ws.acts.length - 1], 0, staging, start * out * 4, n * out * 4);
      });
      return this.readStaging(staging, rows * out);
    });
  }

  async evaluate(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    return this.readback('evaluate.readback', 16, async (staging) => {
      await this.forwardChunks(x, rows, y, (encoder, ws, start, n) => {
        if (start + n === rows) encoder.copyBufferToBuffer(ws.accumulator, 0, staging, 0, 16);
      });
      return (await this.readStaging(staging, 1))[0] / (rows * this.outUnits);
    });
  }

  async snapshot(): Promise<Snapshot> {
    const floats = this.params.snapshotFloats;
    return this.readback('snapshot.readback', Math.max(16, floats * 4), async (staging) => {
      const encoder = this.ctx.device.createCommandEncoder({ label: 'snapshot' });
      this.params.copySnapshot(encoder, staging, 0);
      this.ctx.device.queue.submit([encoder.finish()]);
      return this.snapshotAfter(await this.readStaging(staging, floats), 0);
    });
  }

  restore(params: LayerParams[], state?: OptimizerState): void {
    this.params.restore(params, state);
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
    this.plans.clear();
    this.train = undefined;
    this.infer = undefined;
  }
}
