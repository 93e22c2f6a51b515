// One fit() call on WebGPU, following its FitPlan (fitplan.ts): the training set held as the plan says
// (data.ts), each batch run whole or as micro-batches whose gradients are summed, one command encoder
// and one submit per batch. Steps are submitted ahead, at most MAX_STEPS_IN_FLIGHT at a time; the
// epoch's summed loss and a snapshot of the parameters are read back together, once per epoch.
import type { EpochResult, FitSession, Snapshot } from '../trainer';
import type { GpuContext } from './context';
import { type DataSource, type MicroBatch, ResidentData, StreamedData } from './data';
import { type Dispatch, encodeDispatch } from './dispatch';
import type { GpuFitPlan } from './fitplan';
import type { ParamBuffers } from './params';
import type { Plan } from './plan';
import type { Workspace } from './workspace';

/** What a fit session needs from its trainer (GpuTrainer implements it). */
export interface StepHost {
  readonly ctx: GpuContext;
  readonly params: ParamBuffers;
  readonly inSize: number;
  readonly outUnits: number;
  /** What a summed loss over `rows` rows is divided by for its mean. */
  lossCount(rows: number): number;
  /** A training workspace holding `rows` rows, with the plans for each of `plans` tuned first. */
  prepare(training: boolean, rows: number, plans: PlanKey[]): Promise<Workspace>;
  /** The plan for `rows` rows of a batch of `batchRows` (`add`: a micro-batch after the batch's first). */
  plan(ws: Workspace, key: PlanKey): Plan;
  /** Records a micro-batch's forward, loss (`loss`: accumulate or mean) and backward into a pass. */
  encodeMicro(pass: GPUComputePassEncoder, plan: Plan, loss: Dispatch): void;
  /** Records the optimizer update into a pass. */
  encodeUpdate(pass: GPUComputePassEncoder): void;
  /** Writes the optimizer's per-step values, submits `encoder` and counts the step. */
  submitStep(encoder: GPUCommandEncoder): void;
  readStaging(staging: GPUBuffer, count: number): Promise<Float32Array>;
  snapshotAfter(data: Float32Array, offset: number): Snapshot;
  own<R extends GPUBuffer>(buffer: R): R;
  free(resources: Iterable<GPUBuffer>): void;
}

export interface PlanKey {
  rows: number;
  batchRows: number;
  add: boolean;
}

/** Steps submitted ahead of the GPU before fit() waits: keeps the queue fed but bounded. */
const MAX_STEPS_IN_FLIGHT = 4;

/** The micro-batches of a batch of n rows: `size` rows each, the last one what is left. */
export function microBatches(n: number, size: number): MicroBatch[] {
  return Array.from({ length: Math.ceil(n / size) }, (_, j) => ({
    first: j * size,
    rows: Math.min(size, n - j * size),
  }));
}

/** The plans the batches of an epoch use: every micro-batch size of a whole batch and of the last one. */
function epochPlans(rows: number, batchSize: number, micro: number): PlanKey[] {
  const keys = new Map<string, PlanKey>();
  for (const n of new Set([Math.min(batchSize, rows), rows % batchSize || batchSize])) {
    for (const m of microBatches(n, micro)) {
      const key = { rows: m.rows, batchRows: n, add: m.first > 0 };
      keys.set(JSON.stringify(key), key);
    }
  }
  return [...keys.values()];
}

export class GpuFitSession implements FitSession {
  private readonly data: DataSource;
  private readonly staging: GPUBuffer;
  private workspace?: Workspace;

  constructor(
    private readonly host: StepHost,
    x: Float32Array,
    y: Float32Array,
    private readonly rows: number,
    private readonly fitPlan: GpuFitPlan,
  ) {
    const { ctx, inSize, outUnits } = host;
    const widths = { x: inSize, y: outUnits };
    this.data =
      fitPlan.mode === 'streamed'
        ? new StreamedData(ctx, x, y, widths, fitPlan)
        : new ResidentData(ctx, x, y, rows, widths, fitPlan);
    try {
      // One readback per epoch brings the summed loss and the snapshot (weights and optimizer state).
      const bytes = 16 + host.params.snapshotFloats * 4;
      const usage = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
      this.staging = ctx.createBuffer('fit.epoch.readback', bytes, usage);
    } catch (e) {
      for (const b of this.data.owned) ctx.release(b);
      throw e;
    }
    for (const b of [...this.data.owned, this.staging]) host.own(b);
  }

  async runEpoch(order: Uint32Array, batchSize: number, shouldStop: () => boolean): Promise<EpochResult> {
    const { host, rows, data } = this;
    const { ctx } = host;
    const micro = Math.min(this.fitPlan.microBatchSize, batchSize);
    const ws = await host.prepare(true, micro, epochPlans(rows, batchSize, micro));
    if (ws !== this.workspace) {
      // A new workspace means new batch buffers: what wrote into the old one must be recorded again.
      host.free(data.forget());
      this.workspace = ws;
    }
    data.beginEpoch(order);
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
      const parts = microBatches(n, micro);
      const plans = parts.map((m) => host.plan(ws, { rows: m.rows, batchRows: n, add: m.first > 0 }));
      const { gathers, copies } = await data.step(ws, start, n, parts);
      const encoder = ctx.device.createCommandEncoder({ label: 'fit.step' });
      if (copies) {
        // Each micro-batch's rows are copied in before its own pass; the update gets a pass of its own.
        plans.forEach((plan, j) => {
          copies[j](encoder);
          const pass = encoder.beginComputePass({ label: `fit.step.micro${j}` });
          host.encodeMicro(pass, plan, plan.lossAccumulate);
          pass.end();
        });
        const pass = encoder.beginComputePass({ label: 'fit.step.update' });
        host.encodeUpdate(pass);
        pass.end();
      } else {
        const pass = encoder.beginComputePass({ label: 'fit.step' });
        plans.forEach((plan, j) => {
          for (const d of gathers?.[j] ?? []) encodeDispatch(pass, d);
          host.encodeMicro(pass, plan, plan.lossAccumulate);
        });
        host.encodeUpdate(pass);
        pass.end();
      }
      host.submitStep(encoder);
      data.submitted();
      steps++;
      seen += n;
      // Not a readback: waits only for a step submitted MAX_STEPS_IN_FLIGHT steps ago, so the GPU
      // always has work queued while abort signals and the page still get a turn.
      inFlight.push(ctx.device.queue.onSubmittedWorkDone());
      if (inFlight.length > MAX_STEPS_IN_FLIGHT) await inFlight.shift();
    }
    const copy = ctx.device.createCommandEncoder({ label: 'fit.epoch.end' });
    copy.copyBufferToBuffer(ws.accumulator, 0, this.staging, 0, 16);
    host.params.copySnapshot(copy, this.staging, 16);
    ctx.device.queue.submit([copy.finish()]);
    const values = await host.readStaging(this.staging, 4 + host.params.snapshotFloats);
    const loss = seen === 0 ? NaN : values[0] / host.lossCount(seen);
    return { loss, steps, snapshot: host.snapshotAfter(values, 4) };
  }

  end(): void {
    this.host.free([...this.data.owned, this.staging]);
    this.data.owned.length = 0;
  }
}
