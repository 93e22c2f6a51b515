// The CPU trainer: DESIGN.md's forward pass, MSE, backward pass and optimizer updates in plain loops.
// It is the reference the GPU scheduler is checked against, so each step reads like the math.
// Values are stored as f32 (like the GPU) and each output is computed in f64 and rounded once.
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
import type { Activation } from '../types';
import { activateGrad, matmulInto } from './backend';

interface Layer {
  inSize: number;
  units: number;
  activation: Activation;
  w: Float32Array;
  b: Float32Array;
  dw: Float32Array;
  db: Float32Array;
  /** Optimizer state per parameter: slots[k] = [state of w, state of b]. */
  slots: [Float32Array, Float32Array][];
}

/** Lets the page breathe during long CPU work: resolves on the next macrotask. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class CpuTrainer implements Trainer {
  private layers: Layer[];
  private optimizer: OptimizerConfig;
  private step = 0;
  private lastYield = performance.now();

  constructor(private readonly init: TrainerInit) {
    this.optimizer = { ...init.optimizer };
    let inSize = init.inputSize;
    this.layers = init.layers.map((spec, l) => {
      const layer: Layer = {
        inSize,
        units: spec.units,
        activation: spec.activation,
        w: init.params[l].weights.slice(),
        b: init.params[l].bias.slice(),
        dw: new Float32Array(inSize * spec.units),
        db: new Float32Array(spec.units),
        slots: Array.from(
          { length: stateSlots(init.optimizer) },
          () => [new Float32Array(inSize * spec.units), new Float32Array(spec.units)] as [Float32Array, Float32Array],
        ),
      };
      inSize = spec.units;
      return layer;
    });
  }

  /** Activations [x, A_1, …, A_L] for `rows` rows. */
  private forward(x: Float32Array, rows: number): Float32Array[] {
    const acts = [x];
    for (const layer of this.layers) {
      const out = new Float32Array(rows * layer.units);
      matmulInto(out, acts[acts.length - 1], layer.inSize, layer.w, layer.units, rows, layer.inSize, layer.units, {
        bias: layer.b,
        activation: layer.activation,
      });
      acts.push(out);
    }
    return acts;
  }

  /** Sum over all elements of (pred - y)², in f64. */
  private static squaredError(pred: Float32Array, y: Float32Array): number {
    let sum = 0;
    for (let i = 0; i < pred.length; i++) sum += (pred[i] - y[i]) ** 2;
    return sum;
  }

  /** Backward pass: fills every layer's dw and db from the activations and targets. */
  private backward(acts: Float32Array[], y: Float32Array, rows: number): void {
    const L = this.layers.length;
    const out = acts[L];
    // dZ_L = dA_L ⊙ f'(A_L) with the exact MSE gradient dA_L = 2 (A_L - Y) / (rows · units).
    const scale = Math.fround(2 / out.length);
    const last = this.layers[L - 1];
    let dz = new Float32Array(out.length);
    for (let i = 0; i < out.length; i++) dz[i] = scale * (out[i] - y[i]) * activateGrad(last.activation, out[i]);
    for (let l = L - 1; l >= 0; l--) {
      const layer = this.layers[l];
      const prev = acts[l];
      // dW = A_prevᵀ · dZ,  db = Σ_rows dZ
      matmulInto(layer.dw, prev, layer.inSize, dz, layer.units, layer.inSize, rows, layer.units, { transposeA: true });
      for (let j = 0; j < layer.units; j++) {
        let sum = 0;
        for (let i = 0; i < rows; i++) sum += dz[i * layer.units + j];
        layer.db[j] = sum;
      }
      if (l === 0) break;
      // dA_prev = dZ · Wᵀ (W before this step's update), then dZ_prev = dA_prev ⊙ f'(A_prev).
      const dPrev = new Float32Array(rows * layer.inSize);
      matmulInto(dPrev, dz, layer.units, layer.w, layer.units, rows, layer.units, layer.inSize, { transposeB: true });
      const prevAct = this.layers[l - 1].activation;
      for (let i = 0; i < dPrev.length; i++) dPrev[i] *= activateGrad(prevAct, prev[i]);
      dz = dPrev;
    }
  }

  /** Applies the optimizer to every parameter, as optimizer.wgsl does. */
  private update(): void {
    this.step++;
    const o = this.optimizer;
    const { c1, c2 } = adamCorrections(o, this.step);
    for (const layer of this.layers) {
      const tensors: [Float32Array, Float32Array, number][] = [
        [layer.w, layer.dw, 0],
        [layer.b, layer.db, 1],
      ];
      for (const [p, g, which] of tensors) {
        const s1 = layer.slots[0]?.[which];
        const s2 = layer.slots[1]?.[which];
        for (let i = 0; i < p.length; i++) {
          const gi = g[i];
          if (o.type === 'sgd') {
            p[i] -= o.learningRate * gi;
          } else if (o.type === 'momentum') {
            s1[i] = o.momentum * s1[i] + gi;
            p[i] -= o.learningRate * s1[i];
          } else {
            s1[i] = o.beta1 * s1[i] + (1 - o.beta1) * gi;
            s2[i] = o.beta2 * s2[i] + (1 - o.beta2) * gi * gi;
            p[i] -= (o.learningRate * (s1[i] / c1)) / (Math.sqrt(s2[i] / c2) + o.epsilon);
          }
        }
      }
    }
  }

  /** One full step; returns the batch's summed squared error (before the update). */
  private stepOn(x: Float32Array, y: Float32Array, rows: number): number {
    const acts = this.forward(x, rows);
    const sse = CpuTrainer.squaredError(acts[acts.length - 1], y);
    this.backward(acts, y, rows);
    this.update();
    return sse;
  }

  private get outUnits(): number {
    return this.layers[this.layers.length - 1].units;
  }

  async trainStep(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    return this.stepOn(x, y, rows) / (rows * this.outUnits);
  }

  beginFit(x: Float32Array, y: Float32Array, rows: number): FitSession {
    const inSize = this.init.inputSize;
    const out = this.outUnits;
    return {
      runEpoch: async (order, batchSize, shouldStop): Promise<EpochResult> => {
        let sse = 0;
        let steps = 0;
        let seen = 0;
        for (let start = 0; start < rows; start += batchSize) {
          if (shouldStop()) break;
          const n = Math.min(batchSize, rows - start);
          const bx = new Float32Array(n * inSize);
          const by = new Float32Array(n * out);
          for (let i = 0; i < n; i++) {
            const r = order[start + i];
            bx.set(x.subarray(r * inSize, (r + 1) * inSize), i * inSize);
            by.set(y.subarray(r * out, (r + 1) * out), i * out);
          }
          // Each batch's mean loss weighted by its share of the rows: Σ sse_batch / (rows · out).
          sse += this.stepOn(bx, by, n);
          steps++;
          seen += n;
          // The clock runs across epochs, so many short epochs still give the page a turn.
          if (performance.now() - this.lastYield > 30) {
            await yieldToEventLoop();
            this.lastYield = performance.now();
          }
        }
        return { loss: seen === 0 ? NaN : sse / (seen * out), steps, snapshot: this.copy() };
      },
      end: () => {},
    };
  }

  async predict(x: Float32Array, rows: number): Promise<Float32Array> {
    const acts = this.forward(x, rows);
    return acts[acts.length - 1];
  }

  async evaluate(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    return CpuTrainer.squaredError(await this.predict(x, rows), y) / (rows * this.outUnits);
  }

  private copy(): Snapshot {
    return {
      params: this.layers.map((l) => ({ weights: l.w.slice(), bias: l.b.slice() })),
      state: {
        step: this.step,
        slots: this.layers.map((l) => [...l.slots.map((s) => s[0].slice()), ...l.slots.map((s) => s[1].slice())]),
      },
    };
  }

  async snapshot(): Promise<Snapshot> {
    return this.copy();
  }

  restore(params: LayerParams[], state?: OptimizerState): void {
    this.layers.forEach((l, i) => {
      l.w.set(params[i].weights);
      l.b.set(params[i].bias);
      if (!state) return;
      const k = l.slots.length;
      l.slots.forEach((s, j) => {
        s[0].set(state.slots[i][j]);
        s[1].set(state.slots[i][k + j]);
      });
    });
    if (state) this.step = state.step;
  }

  setLearningRate(learningRate: number): void {
    this.optimizer = { ...this.optimizer, learningRate };
  }

  destroy(): void {
    this.layers = [];
  }
}
