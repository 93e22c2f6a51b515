// GpuTrainer: the Trainer of the WebGPU backend. It orchestrates: the parameters (params.ts) are made
// with the network; workspaces (workspace.ts) and their plans (plan.ts) once per batch size; a fit()
// data set once per call (fit.ts, data.ts, as fitplan.ts decides). A step is then one command encoder
// — gather, forward, loss, backward (per micro-batch), update — and one submit. Per step the host writes
// tiny uniforms (the batch offset, Adam's bias corrections) and, when the data are streamed, the batch.
// fit() reads back once per epoch: the summed loss and the snapshot that recovery restarts from.
import {
  adamCorrections,
  type FitPlan,
  type FitPlanRequest,
  type FitSession,
  type LayerParams,
  type Loss,
  type Metrics,
  type OptimizerConfig,
  type OptimizerState,
  type PhaseTimes,
  type Snapshot,
  type Trainer,
  type TrainerSpec,
} from '../trainer';
import type { MatmulTuner } from './autotune';
import type { GpuContext } from './context';
import { type Dispatch, encodeDispatch, type GpuResource } from './dispatch';
import { GpuFitSession, type PlanKey, type StepHost } from './fit';
import { type GpuFitContext, type GpuFitPlan, planGpuFit, wholeBatchFits } from './fitplan';
import { evaluate, type InferenceHost, predict } from './infer';
import { writeMatmulRate } from './kernels/matmul_args';
import { hyperWords, optimizerDispatch } from './kernels/optimizer';
import { type GpuLayer, ParamBuffers } from './params';
import { type Plan, type PlanEntry, planIsStale, recordTunedPlan } from './plan';
import { profileStep } from './profiler';
import { makeWorkspace, type Workspace } from './workspace';

const planId = (key: PlanKey) => `${key.rows}/${key.batchRows}${key.add ? '+' : ''}`;

/** 0, 1, …, n − 1: the order of a single batch taken as it is. */
const identity = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

export class GpuTrainer implements Trainer, StepHost, InferenceHost {
  readonly params: ParamBuffers;
  private readonly owned = new Set<GpuResource>();
  private readonly hyper: GPUBuffer;
  private readonly stepLoss: GPUBuffer;
  private readonly lossStaging: GPUBuffer;
  private update: Dispatch[] = [];
  private readonly plans = new Map<Workspace, Map<string, PlanEntry>>();
  private optimizer: OptimizerConfig;
  readonly loss: Loss;
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
    this.loss = spec.loss;
    // SGD: W_j −= lr · A_prevᵀ · dZ_j in the dW matmul's store, so no dW buffer and no weight-update pass.
    this.params = new ParamBuffers(ctx, spec, spec.optimizer.type === 'sgd');
    for (const b of this.params.buffers) this.owned.add(b);
    try {
      this.hyper = this.own(ctx.uniform('optimizer.hyper', hyperWords(this.hyperValues()).buffer as ArrayBuffer));
      [this.stepLoss] = ctx.allocate('Network', [{ label: 'loss.step', count: 1 }]).map((b) => this.own(b));
      const usage = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
      this.lossStaging = this.own(ctx.createBuffer('loss.readback', 16, usage));
      this.buildUpdate();
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

  get layers(): GpuLayer[] {
    return this.params.layers;
  }

  get inSize(): number {
    return this.layers[0].inSize;
  }

  get outUnits(): number {
    return this.layers[this.layers.length - 1].units;
  }

  /** Bytes of a workspace and the plans recorded over it. */
  private workspaceBytes(ws: Workspace | undefined): number {
    if (!ws) return 0;
    const plans = [...(this.plans.get(ws)?.values() ?? [])];
    return this.ctx.bytesOf([...ws.buffers, ...plans.flatMap((p) => p.plan.resources)]);
  }

  /** What a summed loss over `rows` rows is divided by for its mean: every output (mse), or every row. */
  lossCount(rows: number): number {
    return this.loss === 'mse' ? rows * this.outUnits : rows;
  }

  get inferenceBytes(): number {
    return this.workspaceBytes(this.infer);
  }

  // ---- the optimizer ------------------------------------------------------------------------------

  private hyperValues() {
    const o = this.optimizer;
    const { c1, c2 } = adamCorrections(o, this.step + 1);
    const { learningRate, weightDecay } = o;
    if (o.type === 'momentum') return { learningRate, weightDecay, beta1: o.momentum };
    if (o.type === 'adam')
      return { learningRate, weightDecay, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon, c1, c2 };
    return { learningRate, weightDecay };
  }

  /** The optimizer's update dispatches: every bias, and every weight block that has a dW buffer. */
  private buildUpdate(): void {
    this.free(this.update.map((d) => d.uniform));
    const { ctx, hyper } = this;
    const kind = this.optimizer.type;
    this.update = this.layers.flatMap((layer) =>
      layer.blocks.flatMap(({ w, dw, b, db, state, cols }) => [
        ...(dw
          ? [
              optimizerDispatch(ctx, `${w.label}.update`, kind, hyper, {
                param: w,
                grad: dw,
                n: layer.inSize * cols,
                state: state.w,
                decay: true,
              }),
            ]
          : []),
        optimizerDispatch(ctx, `${b.label}.update`, kind, hyper, {
          param: b,
          grad: db,
          n: cols,
          state: state.b,
          decay: false,
        }),
      ]),
    );
    for (const d of this.update) this.own(d.uniform);
  }

  /**
   * Gives every weight block a dW buffer, for gradients summed over micro-batches. With SGD the plans
   * recorded so far fused the step into the dW matmul instead, so they are dropped and recorded again.
   */
  private addWeightGrads(): void {
    const made = this.params.addWeightGrads();
    if (made.length === 0) return;
    for (const b of made) this.own(b);
    for (const plans of this.plans.values()) {
      for (const { plan } of plans.values()) this.free(plan.resources);
      plans.clear();
    }
    this.buildUpdate();
  }

  // ---- workspaces and plans (StepHost, InferenceHost) ------------------------------------------------

  async prepare(training: boolean, rows: number, keys: PlanKey[]): Promise<Workspace> {
    const current = training ? this.train : this.infer;
    let ws = current;
    if (!ws || ws.capacity < rows) {
      // A bigger batch replaces the workspace, and its plans with it.
      if (current) this.dropWorkspace(current);
      ws = makeWorkspace(this.ctx, this.layers, training, rows, this.loss === 'crossEntropy');
      this.plans.set(ws, new Map());
      for (const b of ws.buffers) this.own(b);
      if (training) this.train = ws;
      else this.infer = ws;
    }
    // Recorded now, so that what they allocate is checked here; recording asks the tuner to time the
    // variants of their matmuls in the background, and meanwhile they run the defaults.
    for (const key of keys) this.plan(ws, key);
    await this.ctx.checkAllocations();
    return ws;
  }

  private dropWorkspace(ws: Workspace): void {
    for (const { plan } of this.plans.get(ws)?.values() ?? []) this.free(plan.resources);
    this.plans.delete(ws);
    this.free(ws.buffers);
    if (ws === this.train) this.train = undefined;
    if (ws === this.infer) this.infer = undefined;
  }

  /**
   * The plan for `key`, recorded on first use, and again when tuning has since chosen another variant
   * for one of its matmuls. Dropping the old plan is safe between steps: work already submitted keeps
   * what it uses alive until it is done, and every step asks for its plans anew.
   */
  plan(ws: Workspace, key: PlanKey): Plan {
    const plans = this.plans.get(ws) as Map<string, PlanEntry>;
    const id = planId(key);
    let entry = plans.get(id);
    if (entry && planIsStale(entry, this.tuner)) {
      this.free(entry.plan.resources);
      plans.delete(id);
      entry = undefined;
    }
    if (!entry) {
      entry = this.record(ws, key);
      plans.set(id, entry);
    }
    return entry.plan;
  }

  private record(ws: Workspace, key: PlanKey): PlanEntry {
    const { ctx, layers, stepLoss } = this;
    const o = this.optimizer;
    const sgd = o.type === 'sgd' ? { rate: o.learningRate, decay: o.weightDecay } : undefined;
    const entry = recordTunedPlan({ ctx, layers, ws, ...key, sgd, stepLoss, loss: this.loss }, this.tuner);
    for (const r of entry.plan.resources) this.own(r);
    return entry;
  }

  /** Internal (tests, benchmark): the matmul variants the plans recorded now use, by name. */
  matmulVariants(): string[] {
    const entries = [...this.plans.values()].flatMap((p) => [...p.values()]);
    return [...new Set(entries.flatMap((e) => e.variants.map((v) => v.name)))];
  }

  encodeMicro(pass: GPUComputePassEncoder, plan: Plan, loss: Dispatch): void {
    for (const d of [...plan.forward, plan.lossPartial, loss, ...plan.backward]) encodeDispatch(pass, d);
  }

  encodeUpdate(pass: GPUComputePassEncoder): void {
    for (const d of this.update) encodeDispatch(pass, d);
  }

  submitStep(encoder: GPUCommandEncoder): void {
    // The optimizer's per-step values, written when they change (every step for Adam); queue order puts
    // the write before the step.
    if (this.hyperDirty || this.optimizer.type === 'adam') {
      this.ctx.device.queue.writeBuffer(this.hyper, 0, hyperWords(this.hyperValues()));
      if (this.optimizer.type === 'sgd') {
        const plans = [...this.plans.values()].flatMap((p) => [...p.values()]);
        for (const r of plans.flatMap((p) => p.plan.sgdMatmuls)) {
          writeMatmulRate(this.ctx, r, this.optimizer.learningRate);
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

  // ---- Trainer --------------------------------------------------------------------------------------

  async trainStep(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    const split = this.splitPlan(rows);
    if (split) {
      // A batch over one binding or the budget: one step of a fit over this batch alone, in micro-batches.
      const session = this.beginFit(x, y, rows, split);
      try {
        return (await session.runEpoch(identity(rows), rows, () => false)).loss;
      } finally {
        session.end();
      }
    }
    const key = { rows, batchRows: rows, add: false };
    const ws = await this.prepare(true, rows, [key]);
    const plan = this.plan(ws, key);
    const { queue } = this.ctx.device;
    queue.writeBuffer(ws.acts[0], 0, x.buffer, x.byteOffset, x.byteLength);
    queue.writeBuffer(ws.target, 0, y.buffer, y.byteOffset, y.byteLength);
    const encoder = this.ctx.device.createCommandEncoder({ label: 'trainStep' });
    const pass = encoder.beginComputePass({ label: 'trainStep' });
    this.encodeMicro(pass, plan, plan.lossMean as Dispatch);
    this.encodeUpdate(pass);
    pass.end();
    encoder.copyBufferToBuffer(this.stepLoss, 0, this.lossStaging, 0, 16);
    this.submitStep(encoder);
    return (await this.readStaging(this.lossStaging, 1))[0];
  }

  /** The plan of a batch of `rows` rows that must run as micro-batches; undefined when it runs whole. */
  private splitPlan(rows: number): GpuFitPlan | undefined {
    if (wholeBatchFits(this.fitContext(), rows)) return undefined;
    try {
      return this.planFit({ samples: rows, batchSize: rows });
    } catch {
      return undefined; // nothing fits: the allocation itself says so, with the buffer that failed
    }
  }

  private fitContext(): GpuFitContext {
    const { ctx, params } = this;
    const parameterBytes = ctx.bytesOf(params.buffers);
    return {
      layers: this.layers,
      parameterBytes,
      missingWeightGradBytes: params.missingWeightGradBytes,
      bindingLimit: ctx.bindingLimit,
      maxBufferSize: ctx.limits.maxBufferSize,
      memoryBudget: ctx.memoryBudget,
      classify: this.loss === 'crossEntropy',
      // The training workspace and its plans are replaced by the fit's; everything else stays.
      otherBytes: ctx.bytesInUse - this.workspaceBytes(this.train) - parameterBytes,
    };
  }

  /** What fit() will do with these sizes on this device, against its binding limit and memory budget. */
  planFit(request: FitPlanRequest): GpuFitPlan {
    return planGpuFit(this.fitContext(), request);
  }

  beginFit(x: Float32Array, y: Float32Array, rows: number, plan: FitPlan): FitSession {
    if (plan.microBatchSize < plan.batchSize) this.addWeightGrads();
    // A workspace bigger than the plan's micro-batch would hold memory the plan did not count.
    if (this.train && this.train.capacity > plan.microBatchSize) this.dropWorkspace(this.train);
    return new GpuFitSession(this, x, y, rows, plan as GpuFitPlan);
  }

  profileStep(x: Float32Array, y: Float32Array, rows: number): Promise<PhaseTimes | undefined> {
    return profileStep(this, this.update, this.stepLoss, x, y, rows);
  }

  predict(x: Float32Array, rows: number): Promise<Float32Array> {
    return predict(this, x, rows);
  }

  evaluate(x: Float32Array, y: Float32Array, rows: number): Promise<Metrics> {
    return evaluate(this, x, y, rows);
  }

  async snapshot(): Promise<Snapshot> {
    const floats = this.params.snapshotFloats;
    const usage = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
    const staging = this.ctx.createBuffer('snapshot.readback', Math.max(16, floats * 4), usage);
    try {
      const encoder = this.ctx.device.createCommandEncoder({ label: 'snapshot' });
      this.params.copySnapshot(encoder, staging, 0);
      this.ctx.device.queue.submit([encoder.finish()]);
      return this.snapshotAfter(await this.readStaging(staging, floats), 0);
    } finally {
      this.ctx.release(staging);
    }
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
