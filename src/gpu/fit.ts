// One fit() call on WebGPU: the training set is uploaded once and kept on the GPU; each step gathers its
// shuffled batch there (gather.wgsl), so a step uploads nothing but the batch offset. Steps are
// submitted ahead, at most MAX_STEPS_IN_FLIGHT at a time; the epoch's summed loss and a snapshot of the
// parameters are read back together, once per epoch.
import type { EpochResult, FitSession, Snapshot } from '../trainer';
import type { GpuContext } from './context';
import type { Dispatch } from './dispatch';
import { gatherDispatch } from './kernels/gather';
import type { ParamBuffers } from './params';
import type { Plan } from './plan';
import type { Workspace } from './workspace';

/** What a fit session needs from its trainer (GpuTrainer implements it). */
export interface StepHost {
  readonly ctx: GpuContext;
  readonly params: ParamBuffers;
  readonly inSize: number;
  readonly outUnits: number;
  /** A training workspace holding `rows` rows, with the plans for each of `batchRows` tuned first. */
  prepare(training: boolean, rows: number, batchRows: number[]): Promise<Workspace>;
  plan(ws: Workspace, rows: number): Plan;
  /** Records one step: [gather,] forward, loss (`loss`: accumulate or mean), backward, update: one pass. */
  encodeStep(encoder: GPUCommandEncoder, plan: Plan, loss: Dispatch, gather?: Dispatch[]): void;
  /** Writes the optimizer's per-step values, submits `encoder` and counts the step. */
  submitStep(encoder: GPUCommandEncoder): void;
  readStaging(staging: GPUBuffer, count: number): Promise<Float32Array>;
  snapshotAfter(data: Float32Array, offset: number): Snapshot;
  own<R extends GPUBuffer>(buffer: R): R;
  free(resources: Iterable<GPUBuffer>): void;
}

/** Steps submitted ahead of the GPU before fit() waits: keeps the queue fed but bounded. */
const MAX_STEPS_IN_FLIGHT = 4;

export class GpuFitSession implements FitSession {
  private readonly made: GPUBuffer[];
  private readonly dataX: GPUBuffer;
  private readonly dataY: GPUBuffer;
  private readonly order: GPUBuffer;
  private readonly offset: GPUBuffer;
  private readonly staging: GPUBuffer;
  /** Gather dispatches per batch size, into the current workspace. */
  private readonly gathers = new Map<number, Dispatch[]>();
  private workspace?: Workspace;

  constructor(
    private readonly host: StepHost,
    x: Float32Array,
    y: Float32Array,
    private readonly rows: number,
  ) {
    const { ctx, inSize, outUnits } = host;
    [this.dataX, this.dataY, this.order] = ctx.allocate('fit: the training set', [
      { label: 'fit.x', count: rows * inSize, data: x },
      { label: 'fit.y', count: rows * outUnits, data: y },
      { label: 'fit.order', count: rows },
    ]);
    this.made = [this.dataX, this.dataY, this.order];
    try {
      const keep = (b: GPUBuffer) => {
        this.made.push(b);
        return b;
      };
      this.offset = keep(ctx.uniform('fit.batchOffset', new ArrayBuffer(16)));
      // One readback per epoch brings the summed loss and the snapshot (weights and optimizer state).
      const bytes = 16 + host.params.snapshotFloats * 4;
      this.staging = keep(
        ctx.createBuffer('fit.epoch.readback', bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
      );
    } catch (e) {
      for (const b of this.made) ctx.release(b);
      throw e;
    }
    for (const b of this.made) host.own(b);
  }

  private gatherFor(ws: Workspace, n: number): Dispatch[] {
    let g = this.gathers.get(n);
    if (!g) {
      const { ctx, inSize, outUnits } = this.host;
      g = [
        gatherDispatch(ctx, 'fit.gather.x', this.dataX, this.order, ws.acts[0], this.offset, n, inSize),
        gatherDispatch(ctx, 'fit.gather.y', this.dataY, this.order, ws.target, this.offset, n, outUnits),
      ];
      for (const d of g) this.made.push(this.host.own(d.uniform));
      this.gathers.set(n, g);
    }
    return g;
  }

  async runEpoch(perm: Uint32Array, batchSize: number, shouldStop: () => boolean): Promise<EpochResult> {
    const { host, rows } = this;
    const { ctx } = host;
    const batch = Math.min(batchSize, rows);
    const ws = await host.prepare(true, batch, rows % batchSize ? [batch, rows % batchSize] : [batch]);
    if (ws !== this.workspace) {
      // A new workspace means new batch buffers: the gathers must write into them.
      const uniforms = [...this.gathers.values()].flat().map((d) => d.uniform);
      host.free(uniforms);
      this.made.splice(0, this.made.length, ...this.made.filter((b) => !uniforms.includes(b)));
      this.gathers.clear();
      this.workspace = ws;
    }
    ctx.device.queue.writeBuffer(this.order, 0, perm.buffer, perm.byteOffset, perm.byteLength);
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
      const plan = host.plan(ws, n);
      ctx.device.queue.writeBuffer(this.offset, 0, Uint32Array.of(start));
      const encoder = ctx.device.createCommandEncoder({ label: 'fit.step' });
      host.encodeStep(encoder, plan, plan.lossAccumulate, this.gatherFor(ws, n));
      host.submitStep(encoder);
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
    const data = await host.readStaging(this.staging, 4 + host.params.snapshotFloats);
    const loss = seen === 0 ? NaN : data[0] / (seen * host.outUnits);
    return { loss, steps, snapshot: host.snapshotAfter(data, 4) };
  }

  end(): void {
    this.host.free(this.made);
    this.made.length = 0;
  }
}
