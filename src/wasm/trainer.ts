// WasmTrainer: the Trainer of the WebAssembly backend. Parameters, gradients and optimizer state live in
// the engine's memory from the network's creation; workspaces (activations, gradients, two alternating
// input slots) once per batch size; each step is a program (steps.ts) encoded once and run as often as
// wanted. A step writes at most a few floats (the batch offset, the optimizer's per-step values) and
// allocates nothing. Snapshots are plain copies out of wasm memory, so the trainer is host-resident.
import { HostMemoryError } from '../errors';
import {
  adamCorrections,
  type FitPlan,
  type FitPlanRequest,
  type FitSession,
  type LayerParams,
  layerShapes,
  type Loss,
  type Metrics,
  type OptimizerConfig,
  type OptimizerState,
  type Snapshot,
  stateSlots,
  type Trainer,
  type TrainerSpec,
} from '../trainer';
import type { WasmBuffer } from './buffer';
import type { WasmEngine, WasmProgram } from './engine';
import { planWasmFit, WasmFitSession } from './fit';
import type { AnyOp } from './program';
import {
  backwardOps,
  forwardOps,
  type LossTarget,
  lossOps,
  SLOTS,
  updateOps,
  type WasmLayer,
  type WasmWorkspace,
} from './steps';

/** Rows per predict()/evaluate() chunk. */
const INFER_CHUNK = 4096;
/** Input slots of a workspace: training alternates SLOTS (the host fills one while a step runs); inference has one. */
const slotCount = (training: boolean) => (training ? SLOTS : 1);

/** What a program does; with its rows, batch rows and slot it names a cached program. */
export type ProgramMode = 'step' | 'fit' | 'evaluate' | 'predict';

export class WasmTrainer implements Trainer {
  readonly layers: WasmLayer[];
  readonly loss: Loss;
  private optimizer: OptimizerConfig;
  private step = 0;
  private readonly owned: WasmBuffer[] = [];
  /**
   * Per step slot: [lr, β1 or μ, β2, ε, c1, c2, wd, 0] (optimizer.wgsl's Hyper), read by the optimizer ops
   * and by the SGD step fused into the dW matmuls. Written before a step, once the last run that read the
   * slot has finished, so a step queued behind another keeps its own values.
   */
  private readonly hyper: WasmBuffer[];
  /** trainStep's mean loss; fit's and evaluate's summed loss and right answers. */
  readonly stepLoss: WasmBuffer;
  readonly lossSum: WasmBuffer;
  readonly correct: WasmBuffer;
  private workspaces = new Map<'train' | 'infer', { ws: WasmWorkspace; buffers: WasmBuffer[] }>();
  private programs = new Map<string, WasmProgram>();

  constructor(
    readonly engine: WasmEngine,
    spec: TrainerSpec,
    /** The backend's memoryBudget, and the bytes its networks and matrices hold now. */
    readonly memory: { budget: number; used(): number },
  ) {
    this.optimizer = { ...spec.optimizer };
    this.loss = spec.loss;
    const slots = stateSlots(spec.optimizer);
    const fusedSgd = spec.optimizer.type === 'sgd';
    try {
      this.layers = layerShapes(spec.inputSize, spec.layers).map(({ inSize, units }, l) => {
        const name = `layer${l}`;
        const { weights, bias } = spec.params[l];
        const n = inSize * units;
        return {
          inSize,
          units,
          activation: spec.layers[l].activation,
          w: this.alloc(n, `${name}.weights`, weights),
          b: this.alloc(units, `${name}.bias`, bias),
          dw: fusedSgd ? undefined : this.alloc(n, `${name}.weights.grad`),
          db: this.alloc(units, `${name}.bias.grad`),
          state: {
            w: Array.from({ length: slots }, (_, k) => this.alloc(n, `${name}.weights.state${k}`, 0)),
            b: Array.from({ length: slots }, (_, k) => this.alloc(units, `${name}.bias.state${k}`, 0)),
          },
        };
      });
      this.hyper = Array.from({ length: SLOTS }, (_, s) => this.alloc(8, `optimizer.hyper${s}`, 0));
      this.stepLoss = this.alloc(1, 'loss.step', 0);
      this.lossSum = this.alloc(1, 'loss.sum', 0);
      this.correct = this.alloc(1, 'loss.correct', 0);
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** An allocation this trainer owns, filled with `init` (values, or a number for every element). */
  alloc(count: number, label: string, init?: Float32Array | number): WasmBuffer {
    const b = this.engine.alloc(count, label);
    this.owned.push(b);
    if (init !== undefined) {
      const view = this.engine.f32(b);
      if (typeof init === 'number') view.fill(init);
      else view.set(init);
    }
    return b;
  }

  release(buffers: WasmBuffer[]): void {
    for (const b of buffers) {
      const i = this.owned.indexOf(b);
      if (i >= 0) this.owned.splice(i, 1);
      if (!b.freed && !this.engine.destroyed) this.engine.free(b);
    }
  }

  get inSize(): number {
    return this.layers[0].inSize;
  }

  get outUnits(): number {
    return this.layers[this.layers.length - 1].units;
  }

  /** What a summed loss over `rows` rows is divided by for its mean: every output (mse), or every row. */
  lossCount(rows: number): number {
    return this.loss === 'mse' ? rows * this.outUnits : rows;
  }

  // ---- workspaces and programs ------------------------------------------------------------------

  /** Bytes of a workspace for `capacity` rows (training: with gradients). */
  workspaceBytes(capacity: number, training: boolean): number {
    const widths = this.layers.reduce((s, l) => s + l.units, 0);
    return capacity * 4 * (widths * (training ? 2 : 1) + slotCount(training) * (this.inSize + this.outUnits));
  }

  /** The training or inference workspace, holding at least `rows` rows (a bigger one replaces it). */
  workspace(kind: 'train' | 'infer', rows: number): WasmWorkspace {
    const current = this.workspaces.get(kind);
    if (current && current.ws.capacity >= rows) return current.ws;
    if (current) this.dropWorkspace(kind);
    const training = kind === 'train';
    const room = this.memory.budget - this.memory.used();
    if (this.workspaceBytes(rows, training) > room) {
      throw new HostMemoryError(
        `a batch of ${rows} rows needs ${this.workspaceBytes(rows, training)} bytes of wasm memory, with ${room} ` +
          "left under the wasm backend's memoryBudget; nothing was allocated",
      );
    }
    const made: WasmBuffer[] = [];
    const take = (count: number, label: string) => {
      const b = this.alloc(count, `${kind}.${label}`);
      made.push(b);
      return b;
    };
    const ws: WasmWorkspace = {
      capacity: rows,
      outs: this.layers.map((l, i) => take(rows * l.units, `layer${i}.out`)),
      dz: training ? this.layers.map((l, i) => take(rows * l.units, `layer${i}.dz`)) : [],
      slots: Array.from({ length: slotCount(training) }, (_, s) => ({
        x: take(rows * this.inSize, `slot${s}.x`),
        y: take(rows * this.outUnits, `slot${s}.y`),
      })),
    };
    this.workspaces.set(kind, { ws, buffers: made });
    return ws;
  }

  private dropWorkspace(kind: 'train' | 'infer'): void {
    const current = this.workspaces.get(kind);
    if (!current) return;
    for (const [key, program] of this.programs) {
      if (key.startsWith(kind)) {
        program.dispose();
        this.programs.delete(key);
      }
    }
    this.release(current.buffers);
    this.workspaces.delete(kind);
  }

  /**
   * The program of one (micro-)batch: `rows` rows of a batch of `batchRows`, read from input slot `slot`
   * (after `gather` ops, a resident fit's), with the optimizer's hyper block from step slot `stepSlot`; with
   * `update` (a batch's last part) the optimizer steps every parameter not already stepped in its dW matmul.
   */
  program(
    mode: ProgramMode,
    rows: number,
    batchRows: number,
    add: boolean,
    slot: number,
    gather: AnyOp[] = [],
    stepSlot = slot,
    update = false,
  ): { program: WasmProgram; ws: WasmWorkspace } {
    const kind = mode === 'step' || mode === 'fit' ? 'train' : 'infer';
    const ws = this.workspace(kind, rows);
    const key = `${kind}:${mode}:${rows}/${batchRows}${add ? '+' : ''}${update ? 'u' : ''}@${slot}/${stepSlot}:${gather.length}`;
    let program = this.programs.get(key);
    if (!program) {
      const hyper = this.hyper[stepSlot];
      const shape = { layers: this.layers, loss: this.loss, ws, slot, rows, batchRows, add, hyper };
      const training = kind === 'train';
      const target: LossTarget =
        mode === 'step'
          ? { kind: 'mean', out: this.stepLoss }
          : mode === 'predict'
            ? { kind: 'none' }
            : { kind: 'sum', out: this.lossSum, correct: mode === 'evaluate' ? this.correct : undefined };
      const ops = [...gather, ...forwardOps(shape, mode === 'predict'), ...lossOps(shape, target, training)];
      if (training) ops.push(...backwardOps(shape));
      if (update) ops.push(...updateOps(this.layers, this.optimizer.type, hyper));
      program = this.engine.program(ops, key);
      this.programs.set(key, program);
    }
    return { program, ws };
  }

  /** Gives every layer a dW (micro-batches sum their gradients there, even with SGD); re-records programs. */
  addWeightGrads(): void {
    const missing = this.layers.filter((l) => !l.dw);
    if (missing.length === 0) return;
    for (const l of missing) l.dw = this.alloc(l.inSize * l.units, `${l.w.label}.grad`);
    this.disposePrograms();
  }

  /**
   * Forgets the programs that gather from a resident fit's data (their keys end in a non-zero gather count):
   * that data is freed when its fit ends, and the next fit's lies elsewhere.
   */
  dropGatherPrograms(): void {
    for (const [key, program] of this.programs) {
      if (!key.endsWith(':0')) {
        program.dispose();
        this.programs.delete(key);
      }
    }
  }

  private disposePrograms(): void {
    for (const program of this.programs.values()) program.dispose();
    this.programs.clear();
  }

  /** Writes the optimizer's values for the step about to run into a step slot, and counts the step. */
  beforeStep(slot = 0): void {
    const o = this.optimizer;
    const { c1, c2 } = adamCorrections(o, this.step + 1);
    const [beta1, beta2, epsilon] =
      o.type === 'adam' ? [o.beta1, o.beta2, o.epsilon] : o.type === 'momentum' ? [o.momentum, 0, 0] : [0, 0, 0];
    this.engine.f32(this.hyper[slot]).set([o.learningRate, beta1, beta2, epsilon, c1, c2, o.weightDecay, 0]);
    this.step++;
  }

  // ---- Trainer ------------------------------------------------------------------------------------

  async trainStep(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    const plan = this.planFit({ samples: rows, batchSize: rows });
    if (plan.microBatchSize < rows) {
      // Over the budget at once: one step of a fit over this batch alone, in micro-batches.
      const session = this.beginFit(x, y, rows, plan);
      try {
        return (
          await session.runEpoch(
            Uint32Array.from({ length: rows }, (_, i) => i),
            rows,
            () => false,
          )
        ).loss;
      } finally {
        session.end();
      }
    }
    const { program, ws } = this.program('step', rows, rows, false, 0, [], 0, true);
    this.engine.f32(ws.slots[0].x).set(x);
    this.engine.f32(ws.slots[0].y).set(y);
    this.beforeStep();
    await this.engine.run(program);
    return this.engine.f32(this.stepLoss)[0];
  }

  planFit(request: FitPlanRequest): FitPlan {
    const trainBytes = this.workspaces.get('train')?.buffers.reduce((s, b) => s + b.bytes, 0) ?? 0;
    return planWasmFit(this, request, this.memory.budget - (this.memory.used() - trainBytes));
  }

  beginFit(x: Float32Array, y: Float32Array, rows: number, plan: FitPlan): FitSession {
    // The plan counted a training workspace of its own micro-batch size in place of a bigger one.
    if ((this.workspaces.get('train')?.ws.capacity ?? 0) > plan.microBatchSize) this.dropWorkspace('train');
    if (plan.microBatchSize < plan.batchSize) this.addWeightGrads();
    return new WasmFitSession(this, x, y, rows, plan);
  }

  /** The forward pass (and the loss) over `rows` rows in chunks on the inference workspace. */
  private async chunks(mode: 'evaluate' | 'predict', x: Float32Array, y: Float32Array | undefined, rows: number) {
    const chunk = Math.min(rows, INFER_CHUNK);
    const out = mode === 'predict' ? new Float32Array(rows * this.outUnits) : undefined;
    const [wIn, wOut] = [this.inSize, this.outUnits];
    this.engine.f32(this.lossSum)[0] = 0;
    this.engine.u32(this.correct)[0] = 0;
    for (let start = 0; start < rows; start += chunk) {
      const n = Math.min(chunk, rows - start);
      const { program, ws } = this.program(mode, n, n, false, 0);
      this.engine.f32(ws.slots[0].x).set(x.subarray(start * wIn, (start + n) * wIn));
      if (y) this.engine.f32(ws.slots[0].y).set(y.subarray(start * wOut, (start + n) * wOut));
      await this.engine.run(program);
      out?.set(this.engine.f32(ws.outs[this.layers.length - 1]).subarray(0, n * wOut), start * wOut);
    }
    return out;
  }

  async predict(x: Float32Array, rows: number): Promise<Float32Array> {
    return (await this.chunks('predict', x, undefined, rows)) as Float32Array;
  }

  async evaluate(x: Float32Array, y: Float32Array, rows: number): Promise<Metrics> {
    await this.chunks('evaluate', x, y, rows);
    const loss = this.engine.f32(this.lossSum)[0] / this.lossCount(rows);
    if (this.loss !== 'crossEntropy') return { loss };
    return { loss, accuracy: this.engine.u32(this.correct)[0] / rows };
  }

  /** Parameters and optimizer state copied out of wasm memory. */
  copySnapshot(): Snapshot {
    const copy = (b: WasmBuffer) => this.engine.f32(b).slice();
    return {
      params: this.layers.map((l) => ({ weights: copy(l.w), bias: copy(l.b) })),
      state: {
        step: this.step,
        layers: this.layers.map((l) => ({ weights: l.state.w.map(copy), bias: l.state.b.map(copy) })),
      },
    };
  }

  async snapshot(): Promise<Snapshot> {
    return this.copySnapshot();
  }

  snapshotNow(): Snapshot {
    return this.copySnapshot();
  }

  restore(params: LayerParams[], state?: OptimizerState): void {
    const write = (b: WasmBuffer, v: Float32Array) => this.engine.f32(b).set(v);
    this.layers.forEach((l, i) => {
      write(l.w, params[i].weights);
      write(l.b, params[i].bias);
      if (!state) return;
      l.state.w.forEach((b, k) => {
        write(b, state.layers[i].weights[k]);
      });
      l.state.b.forEach((b, k) => {
        write(b, state.layers[i].bias[k]);
      });
    });
    if (state) this.step = state.step;
  }

  setLearningRate(learningRate: number): void {
    this.optimizer = { ...this.optimizer, learningRate };
  }

  destroy(): void {
    if (this.engine.destroyed) return;
    this.disposePrograms();
    this.release([...this.owned]);
    this.workspaces.clear();
  }
}
