// Where a WebGPU fit() keeps its training set and how each micro-batch's rows reach the workspace:
//   ResidentData: on the GPU, in one buffer per tensor or (sharded) several; batches are gathered there
//     (gather.wgsl) in the epoch's shuffled order, which is uploaded once per epoch.
//   StreamedData: in host memory; each batch is gathered on the host into a ring of mapped staging
//     buffers and copied into the workspace, so the upload of the next batch overlaps the current step.
// Either way a step allocates nothing, and the rows a step sees are the same.
import type { GpuContext } from './context';
import type { Dispatch } from './dispatch';
import type { GpuFitPlan } from './fitplan';
import { STREAM_RING } from './fitplan';
import { gatherDispatch, type Shard } from './kernels/gather';
import type { Workspace } from './workspace';

/** One micro-batch of a step: `rows` rows starting `first` rows into the batch. */
export interface MicroBatch {
  rows: number;
  first: number;
}

export interface DataSource {
  /** Buffers and uniforms it made; freed by end(). */
  readonly owned: GPUBuffer[];
  beginEpoch(order: Uint32Array): void;
  /**
   * Prepares the step of the batch of `n` rows starting at `start` of the epoch's order; resolves to how
   * each micro-batch gets its rows: dispatches to run in the step's pass (gathers), or commands to
   * record on the encoder before that micro-batch's pass (copies).
   */
  step(
    ws: Workspace,
    start: number,
    n: number,
    micro: MicroBatch[],
  ): Promise<{ gathers?: Dispatch[][]; copies?: ((encoder: GPUCommandEncoder) => void)[] }>;
  /** Called after the step was submitted. */
  submitted(): void;
  /** Forgets dispatches recorded for a workspace that was replaced. */
  forget(): GPUBuffer[];
}

/** The training set on the GPU: shards of x and of y (one each when it fits a binding) and the order. */
export class ResidentData implements DataSource {
  readonly owned: GPUBuffer[];
  private readonly x: Shard[];
  private readonly y: Shard[];
  private readonly order: GPUBuffer;
  private readonly offset: GPUBuffer;
  /** Gathers per micro-batch (rows @ first), into the current workspace. */
  private readonly gathers = new Map<string, Dispatch[]>();

  constructor(
    private readonly ctx: GpuContext,
    x: Float32Array,
    y: Float32Array,
    rows: number,
    private readonly widths: { x: number; y: number },
    plan: GpuFitPlan,
  ) {
    const shards = (name: string, data: Float32Array, width: number, per: number) =>
      Array.from({ length: Math.ceil(rows / per) }, (_, i) => {
        const start = i * per;
        const n = Math.min(per, rows - start);
        const label = plan.mode === 'sharded' ? `fit.${name}.shard${i}` : `fit.${name}`;
        return { label, count: n * width, data: data.subarray(start * width, (start + n) * width), start, rows: n };
      });
    const xs = shards('x', x, widths.x, plan.shardRows.x);
    const ys = shards('y', y, widths.y, plan.shardRows.y);
    const buffers = ctx.allocate('fit: the training set', [...xs, ...ys, { label: 'fit.order', count: rows }]);
    this.owned = [...buffers];
    this.x = xs.map(({ start, rows: n }, i) => ({ buffer: buffers[i], start, rows: n }));
    this.y = ys.map(({ start, rows: n }, i) => ({ buffer: buffers[xs.length + i], start, rows: n }));
    this.order = buffers[buffers.length - 1];
    try {
      this.offset = ctx.uniform('fit.batchOffset', new ArrayBuffer(16));
    } catch (e) {
      for (const b of this.owned) ctx.release(b);
      throw e;
    }
    this.owned.push(this.offset);
  }

  beginEpoch(order: Uint32Array): void {
    this.ctx.device.queue.writeBuffer(this.order, 0, order.buffer, order.byteOffset, order.byteLength);
  }

  private gathersFor(ws: Workspace, { rows, first }: MicroBatch): Dispatch[] {
    const key = `${rows}@${first}`;
    let g = this.gathers.get(key);
    if (!g) {
      const { ctx, order, offset } = this;
      g = [
        ...this.x.map((s) =>
          gatherDispatch(ctx, 'fit.gather.x', s, order, ws.acts[0], offset, rows, this.widths.x, first),
        ),
        ...this.y.map((s) =>
          gatherDispatch(ctx, 'fit.gather.y', s, order, ws.target, offset, rows, this.widths.y, first),
        ),
      ];
      this.owned.push(...g.map((d) => d.uniform));
      this.gathers.set(key, g);
    }
    return g;
  }

  async step(ws: Workspace, start: number, _n: number, micro: MicroBatch[]) {
    this.ctx.device.queue.writeBuffer(this.offset, 0, Uint32Array.of(start));
    return { gathers: micro.map((m) => this.gathersFor(ws, m)) };
  }

  submitted(): void {}

  forget(): GPUBuffer[] {
    const uniforms = [...this.gathers.values()].flat().map((d) => d.uniform);
    this.gathers.clear();
    this.owned.splice(0, this.owned.length, ...this.owned.filter((b) => !uniforms.includes(b)));
    return uniforms;
  }
}

/** The training set in host memory, uploaded batch by batch through a ring of mapped staging buffers. */
export class StreamedData implements DataSource {
  readonly owned: GPUBuffer[] = [];
  private readonly ring: { buffer: GPUBuffer; ready: Promise<unknown>; failed?: unknown }[] = [];
  private order: Uint32Array = new Uint32Array(0);
  private next = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly x: Float32Array,
    private readonly y: Float32Array,
    private readonly widths: { x: number; y: number },
    plan: GpuFitPlan,
  ) {
    const bytes = plan.batchSize * (widths.x + widths.y) * 4;
    const usage = GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC;
    ctx.checkBudget('fit: the upload ring', STREAM_RING * bytes);
    try {
      for (let i = 0; i < STREAM_RING; i++) {
        // Made mapped, so the first STREAM_RING batches need not wait for a map.
        const buffer = ctx.createBuffer(`fit.upload${i}`, Math.max(16, bytes), usage, true);
        this.owned.push(buffer);
        this.ring.push({ buffer, ready: Promise.resolve() });
      }
    } catch (e) {
      for (const b of this.owned) ctx.release(b);
      throw e;
    }
  }

  beginEpoch(order: Uint32Array): void {
    this.order = order;
  }

  async step(ws: Workspace, start: number, n: number, micro: MicroBatch[]) {
    const slot = this.ring[this.next];
    await slot.ready;
    if (slot.failed) throw await this.ctx.failure(`upload of '${slot.buffer.label}'`, slot.failed);
    // The batch's rows in the epoch's order: x rows, then y rows.
    const wx = this.widths.x;
    const wy = this.widths.y;
    const mapped = new Float32Array(slot.buffer.getMappedRange(0, n * (wx + wy) * 4));
    for (let i = 0; i < n; i++) {
      const r = this.order[start + i];
      mapped.set(this.x.subarray(r * wx, (r + 1) * wx), i * wx);
      mapped.set(this.y.subarray(r * wy, (r + 1) * wy), n * wx + i * wy);
    }
    slot.buffer.unmap();
    const copies = micro.map(({ rows, first }) => (encoder: GPUCommandEncoder) => {
      encoder.copyBufferToBuffer(slot.buffer, first * wx * 4, ws.acts[0], 0, rows * wx * 4);
      encoder.copyBufferToBuffer(slot.buffer, (n * wx + first * wy) * 4, ws.target, 0, rows * wy * 4);
    });
    return { copies };
  }

  submitted(): void {
    const slot = this.ring[this.next];
    slot.failed = undefined;
    // Resolves once the GPU has copied out of it: the next time this slot is used, it is free.
    slot.ready = slot.buffer.mapAsync(GPUMapMode.WRITE).catch((e) => {
      slot.failed = e;
    });
    this.next = (this.next + 1) % STREAM_RING;
  }

  forget(): GPUBuffer[] {
    return [];
  }
}
