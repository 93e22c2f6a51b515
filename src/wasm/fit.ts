// One fit() on the wasm backend, and its plan. The training set is resident in wasm memory (batches
// gathered there by the engine in the epoch's shuffled order) or, when it does not fit the memory budget
// or streaming is asked for, stays in host memory and each batch is copied in by the host. Batches run
// whole or as micro-batches whose gradients are summed before one update. Steps alternate between two
// input slots, so the host writes the next batch while the engine runs the last one.
import { HostMemoryError } from '../errors';
import type { DataMode, EpochResult, FitPlan, FitPlanRequest, FitSession, Snapshot } from '../trainer';
import type { WasmBuffer } from './buffer';
import type { AnyOp } from './program';
import type { WasmEngine, WasmProgram } from './engine';
import { SLOTS, type WasmLayer, type WasmWorkspace } from './steps';

/** What a fit needs of the trainer (trainer.ts, which imports this file: it is named here, not imported). */
export interface WasmFitHost {
  readonly engine: WasmEngine;
  readonly layers: WasmLayer[];
  readonly inSize: number;
  readonly outUnits: number;
  readonly memory: { budget: number; used(): number };
  readonly lossSum: WasmBuffer;
  workspaceBytes(capacity: number, training: boolean): number;
  workspace(kind: 'train', rows: number): WasmWorkspace;
  alloc(count: number, label: string, init?: Float32Array | number): WasmBuffer;
  release(buffers: WasmBuffer[]): void;
  program(
    mode: 'fit',
    rows: number,
    batchRows: number,
    add: boolean,
    slot: number,
    gather: AnyOp[],
    stepSlot: number,
    update: boolean,
  ): { program: WasmProgram; ws: WasmWorkspace };
  beforeStep(slot: number): void;
  dropGatherPrograms(): void;
  lossCount(rows: number): number;
  copySnapshot(): Snapshot;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The micro-batches of a batch of n rows: `size` rows each, the last one what is left. */
function microBatches(n: number, size: number): { first: number; rows: number }[] {
  return Array.from({ length: Math.ceil(n / size) }, (_, j) => ({
    first: j * size,
    rows: Math.min(size, n - j * size),
  }));
}

/** Where the data goes and how big the passes are, within `available` bytes of wasm memory. */
export function planWasmFit(t: WasmFitHost, request: FitPlanRequest, available: number): FitPlan {
  const { samples } = request;
  const batch = Math.min(request.batchSize, samples);
  const parameters = t.layers.reduce((s, l) => s + (l.inSize + 1) * l.units * 4 * (2 + l.state.w.length), 0);
  const missingGrads = t.layers.filter((l) => !l.dw).reduce((s, l) => s + l.inSize * l.units * 4, 0);
  const resident = samples * (t.inSize + t.outUnits + 1) * 4;
  const modes: DataMode[] = request.stream ? ['streamed'] : ['resident', 'streamed'];
  for (
    let micro = Math.min(request.microBatchSize ?? batch, batch);
    micro >= 1;
    micro = micro > 1 ? Math.ceil(micro / 2) : 0
  ) {
    const batchBytes = t.workspaceBytes(micro, true) + (micro < batch ? missingGrads : 0);
    for (const mode of modes) {
      const data = mode === 'resident' ? resident : 0;
      if (batchBytes + data > available) continue;
      const where =
        mode === 'resident'
          ? 'the training set is copied into wasm memory once and batches are gathered there'
          : request.stream
            ? 'streaming was asked for: the training set stays in host memory and each batch is copied in'
            : 'the training set is over the wasm memory budget: it stays in host memory and each batch is copied in';
      const split =
        micro === batch
          ? `batches of ${batch} rows run whole`
          : `each batch of ${batch} rows runs as micro-batches of ${micro} rows ` +
            `(${request.microBatchSize === micro ? 'as asked' : 'to fit the budget'}), their gradients summed ` +
            'before one update';
      return {
        mode,
        samples,
        batchSize: batch,
        microBatchSize: micro,
        shards: mode === 'resident' ? 1 : 0,
        bytes: { parameters, batch: batchBytes, data, total: parameters + batchBytes + data },
        limits: { maxStorageBufferBindingSize: Infinity, memoryBudget: t.memory.budget },
        reason: `${where}; ${split}`,
      };
    }
  }
  throw new HostMemoryError(
    `fit: ${samples} samples in batches of ${batch} do not fit: even one row at a time needs ` +
      `${mib(t.workspaceBytes(1, true))} of wasm memory with ${mib(Math.max(0, available))} available; ` +
      'nothing was allocated',
  );
}

/** Lets the page breathe during long single-threaded work: resolves on the next macrotask. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class WasmFitSession implements FitSession {
  private readonly made: WasmBuffer[] = [];
  /**
   * Resident: the data set, the epoch's order and, per input slot, the position in the order of the rows its
   * next run gathers (written once the slot's last run has finished, so one word per slot is enough).
   */
  private readonly data?: { x: WasmBuffer; y: WasmBuffer; order: WasmBuffer; offsets: WasmBuffer[] };
  private order: Uint32Array = new Uint32Array(0);
  private lastYield = performance.now();

  constructor(
    private readonly t: WasmFitHost,
    private readonly x: Float32Array,
    private readonly y: Float32Array,
    private readonly rows: number,
    private readonly plan: FitPlan,
  ) {
    if (plan.mode !== 'resident') return;
    try {
      const keep = (b: WasmBuffer) => {
        this.made.push(b);
        return b;
      };
      this.data = {
        x: keep(t.alloc(rows * t.inSize, 'fit.x', x)),
        y: keep(t.alloc(rows * t.outUnits, 'fit.y', y)),
        order: keep(t.alloc(rows, 'fit.order')),
        offsets: Array.from({ length: SLOTS }, (_, s) => keep(t.alloc(1, `fit.offset${s}`))),
      };
    } catch (e) {
      t.release(this.made);
      throw e;
    }
  }

  /** The gathers of `rows` rows into a slot (resident), from the position in the order in the slot's offset. */
  private gathers(slot: number, rows: number): AnyOp[] {
    const d = this.data;
    if (!d) return [];
    const ws = this.t.workspace('train', this.plan.microBatchSize);
    const offset = d.offsets[slot];
    const [x, y] = [ws.slots[slot].x, ws.slots[slot].y];
    return [
      { op: 'gather', src: d.x, idx: d.order, out: x, rows, cols: this.t.inSize, offset },
      { op: 'gather', src: d.y, idx: d.order, out: y, rows, cols: this.t.outUnits, offset },
    ];
  }

  /** Puts rows order[start .. start+n) where the slot's program reads them. */
  private fill(slot: number, first: number, start: number, n: number): void {
    const { t } = this;
    const engine = t.engine;
    if (this.data) {
      engine.u32(this.data.offsets[slot])[0] = start + first;
      return;
    }
    const ws = t.workspace('train', this.plan.microBatchSize);
    const [wx, wy] = [t.inSize, t.outUnits];
    const xs = engine.f32(ws.slots[slot].x);
    const ys = engine.f32(ws.slots[slot].y);
    for (let i = 0; i < n; i++) {
      const r = this.order[start + first + i];
      xs.set(this.x.subarray(r * wx, (r + 1) * wx), i * wx);
      ys.set(this.y.subarray(r * wy, (r + 1) * wy), i * wy);
    }
  }

  async runEpoch(order: Uint32Array, batchSize: number, shouldStop: () => boolean): Promise<EpochResult> {
    const { t, rows } = this;
    const engine = t.engine;
    const micro = Math.min(this.plan.microBatchSize, batchSize);
    this.order = order;
    if (this.data) engine.u32(this.data.order).set(order);
    engine.f32(t.lossSum)[0] = 0;
    // The last run that read each input slot, and the last that read each step slot's hyper block (a split
    // batch runs its update in whichever input slot its last part took): neither is written again before.
    const pending: Promise<void>[] = Array.from({ length: SLOTS }, () => Promise.resolve());
    const hyperRead: Promise<void>[] = Array.from({ length: SLOTS }, () => Promise.resolve());
    let steps = 0;
    let seen = 0;
    let unit = 0;
    try {
      for (let start = 0; start < rows; start += batchSize) {
        if (shouldStop()) break;
        const n = Math.min(batchSize, rows - start);
        const parts = microBatches(n, micro);
        const whole = parts.length === 1;
        // A split batch sums into the dW buffers, which the previous step's update must have read first.
        if (!whole) await Promise.all(pending);
        const stepSlot = whole ? unit % SLOTS : 0;
        await hyperRead[stepSlot];
        t.beforeStep(stepSlot);
        for (const [j, part] of parts.entries()) {
          const slot = whole ? stepSlot : unit % SLOTS;
          await pending[slot];
          this.fill(slot, part.first, start, part.rows);
          const last = j === parts.length - 1;
          const gather = this.gathers(slot, part.rows);
          const { program } = t.program('fit', part.rows, n, j > 0, slot, gather, stepSlot, last);
          pending[slot] = engine.run(program);
          hyperRead[stepSlot] = pending[slot];
          unit++;
        }
        steps++;
        seen += n;
        // A one-thread engine runs on this thread: give the page a turn now and then.
        if (performance.now() - this.lastYield > 30) {
          await yieldToEventLoop();
          this.lastYield = performance.now();
        }
      }
    } finally {
      await Promise.allSettled([...pending, ...hyperRead]);
    }
    await Promise.all([...pending, ...hyperRead]);
    const loss = seen === 0 ? NaN : engine.f32(t.lossSum)[0] / t.lossCount(seen);
    return { loss, steps, snapshot: t.copySnapshot() };
  }

  end(): void {
    // Programs are cached by shape; those that gather from this fit's data must not outlive it.
    if (this.data) this.t.dropGatherPrograms();
    this.t.release(this.made);
    this.made.length = 0;
  }
}
