// The CPU trainer: DESIGN.md's forward pass, loss, backward pass and optimizer update, built from the
// same loops as the CPU backend's ops (ops.ts). It is the reference every other trainer is checked
// against, so each step reads like the math.
import {
  adamCorrections,
  type EpochResult,
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
import { HostMemoryError } from '../errors';
import type { Activation } from '../types';
import {
  activationBackwardInto,
  biasGradInto,
  correctRows,
  crossEntropyGradInto,
  crossEntropySum,
  matmulInto,
  mseGradInto,
  optimizerStepInto,
  softmaxInto,
  squaredErrorSum,
} from './ops';

/** One parameter tensor with its gradient and optimizer state. */
interface Param {
  value: Float32Array;
  grad: Float32Array;
  /** The optimizer's state tensors, in OptimizerState's slot order. */
  state: Float32Array[];
}

interface Layer {
  inSize: number;
  units: number;
  activation: Activation;
  w: Param;
  b: Param;
}

function param(value: Float32Array, slots: number): Param {
  return {
    value,
    grad: new Float32Array(value.length),
    state: Array.from({ length: slots }, () => new Float32Array(value.length)),
  };
}

/** Lets the page breathe during long CPU work: resolves on the next macrotask. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class CpuTrainer implements Trainer {
  private layers: Layer[];
  private optimizer: OptimizerConfig;
  private readonly loss: Loss;
  private step = 0;
  private lastYield = performance.now();

  constructor(
    spec: TrainerSpec,
    /** The backend's memoryBudget: parameters and a batch's activations must fit it. */
    private readonly budget = Infinity,
  ) {
    this.optimizer = { ...spec.optimizer };
    this.loss = spec.loss;
    const slots = stateSlots(spec.optimizer);
    this.layers = layerShapes(spec.inputSize, spec.layers).map(({ inSize, units }, l) => ({
      inSize,
      units,
      activation: spec.layers[l].activation,
      w: param(spec.params[l].weights.slice(), slots),
      b: param(spec.params[l].bias.slice(), slots),
    }));
  }

  private get outUnits(): number {
    return this.layers[this.layers.length - 1].units;
  }

  /** What a batch's summed loss is divided by for its mean: every output (mse), or every row (cross-entropy). */
  private lossCount(rows: number): number {
    return this.loss === 'mse' ? rows * this.outUnits : rows;
  }

  /**
   * Activations [x, A_1, …, A_L] for `rows` rows: A_l = f(A_{l-1} · W + b); and the output layer's logits
   * A_{L-1} · W + b, which a softmax output's cross-entropy is computed from.
   */
  private forward(x: Float32Array, rows: number): { acts: Float32Array[]; logits: Float32Array } {
    const acts = [x];
    let logits = x;
    for (const layer of this.layers) {
      const out = new Float32Array(rows * layer.units);
      const { inSize, units } = layer;
      const softmax = layer.activation === 'softmax';
      const activation = softmax ? 'linear' : layer.activation;
      matmulInto(out, acts[acts.length - 1], inSize, layer.w.value, units, rows, inSize, units, {
        bias: layer.b.value,
        activation,
      });
      logits = out;
      acts.push(softmax ? out.slice() : out);
      if (softmax) softmaxInto(acts[acts.length - 1], out, units);
    }
    return { acts, logits };
  }

  /** The batch's summed loss: squared errors, or cross-entropies (from the logits, by log-sum-exp). */
  private lossSum(out: Float32Array, logits: Float32Array, y: Float32Array): number {
    return this.loss === 'mse' ? squaredErrorSum(out, y) : crossEntropySum(logits, y, this.outUnits);
  }

  /** Backward pass: fills every layer's gradients from the activations and targets. */
  private backward(acts: Float32Array[], y: Float32Array, rows: number): void {
    const L = this.layers.length;
    let dz = new Float32Array(acts[L].length);
    const last = this.layers[L - 1].activation;
    if (last === 'softmax') {
      // dZ_L = (P − Y) / rows: the mean cross-entropy's gradient at the logits, the softmax folded in.
      crossEntropyGradInto(dz, acts[L], y, rows);
    } else {
      // dZ_L = dA_L ⊙ f'(A_L), with the exact MSE gradient dA_L = 2 (A_L − Y) / (rows · units).
      mseGradInto(dz, acts[L], y, last);
    }
    for (let l = L - 1; l >= 0; l--) {
      const { inSize, units, w, b } = this.layers[l];
      const prev = acts[l];
      // dW = A_prevᵀ · dZ,  db = Σ_rows dZ
      matmulInto(w.grad, prev, inSize, dz, units, inSize, rows, units, { transposeA: true });
      biasGradInto(b.grad, dz, rows, units);
      if (l === 0) break;
      // dA_prev = dZ · Wᵀ (W before this step's update), then dZ_prev = dA_prev ⊙ f'(A_prev).
      const dPrev = new Float32Array(rows * inSize);
      matmulInto(dPrev, dz, units, w.value, units, rows, units, inSize, { transposeB: true });
      activationBackwardInto(dPrev, prev, dPrev, this.layers[l - 1].activation, inSize);
      dz = dPrev;
    }
  }

  /** Applies the optimizer to every parameter; weight decay to the weights only. */
  private update(): void {
    this.step++;
    const o = { ...this.optimizer, ...adamCorrections(this.optimizer, this.step) };
    for (const { w, b } of this.layers) {
      optimizerStepInto(o, w.value, w.grad, w.state[0], w.state[1], true);
      optimizerStepInto(o, b.value, b.grad, b.state[0], b.state[1]);
    }
  }

  /** One full step; returns the batch's summed loss (before the update). */
  private stepOn(x: Float32Array, y: Float32Array, rows: number): number {
    const { acts, logits } = this.forward(x, rows);
    const sum = this.lossSum(acts[acts.length - 1], logits, y);
    this.backward(acts, y, rows);
    this.update();
    return sum;
  }

  async trainStep(x: Float32Array, y: Float32Array, rows: number): Promise<number> {
    return this.stepOn(x, y, rows) / this.lossCount(rows);
  }

  /** Host memory holds the training set and the whole batch: always resident, batches whole. */
  planFit({ samples, batchSize }: FitPlanRequest): FitPlan {
    const batch = Math.min(batchSize, samples);
    const floats = (n: number) => n * 4;
    const slots = this.layers[0].w.state.length;
    const parameters = this.layers.reduce((s, l) => s + floats((l.inSize + 1) * l.units * (2 + slots)), 0);
    const widths = this.layers.reduce((s, l) => s + l.units, this.layers[0].inSize);
    const batchBytes = floats(batch * widths * 2);
    const data = floats(samples * (this.layers[0].inSize + this.outUnits));
    if (parameters + batchBytes > this.budget) {
      throw new HostMemoryError(
        `fit: batches of ${batch} rows need ${batchBytes} bytes of activations and gradients on top of the ` +
          `${parameters} bytes of parameters, over the cpu backend's memoryBudget of ${this.budget} bytes`,
      );
    }
    return {
      mode: 'resident',
      samples,
      batchSize: batch,
      microBatchSize: batch,
      shards: 1,
      bytes: { parameters, batch: batchBytes, data, total: parameters + batchBytes + data },
      limits: { maxStorageBufferBindingSize: Infinity, memoryBudget: this.budget },
      reason: 'the CPU backend keeps the training set and each whole batch in host memory',
    };
  }

  beginFit(x: Float32Array, y: Float32Array, rows: number): FitSession {
    const inSize = this.layers[0].inSize;
    const out = this.outUnits;
    return {
      runEpoch: async (order, batchSize, shouldStop): Promise<EpochResult> => {
        let sum = 0;
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
          // Each batch's mean loss weighted by its share of the rows: Σ loss_batch / (rows [· out]).
          sum += this.stepOn(bx, by, n);
          steps++;
          seen += n;
          // The clock runs across epochs, so many short epochs still give the page a turn.
          if (performance.now() - this.lastYield > 30) {
            await yieldToEventLoop();
            this.lastYield = performance.now();
          }
        }
        return { loss: seen === 0 ? NaN : sum / this.lossCount(seen), steps, snapshot: this.copy() };
      },
      end: () => {},
    };
  }

  async predict(x: Float32Array, rows: number): Promise<Float32Array> {
    const { acts } = this.forward(x, rows);
    return acts[acts.length - 1];
  }

  async evaluate(x: Float32Array, y: Float32Array, rows: number): Promise<Metrics> {
    const { acts, logits } = this.forward(x, rows);
    const out = acts[acts.length - 1];
    const loss = this.lossSum(out, logits, y) / this.lossCount(rows);
    return this.loss === 'crossEntropy' ? { loss, accuracy: correctRows(out, y, this.outUnits) / rows } : { loss };
  }

  private copy(): Snapshot {
    return {
      params: this.layers.map((l) => ({ weights: l.w.value.slice(), bias: l.b.value.slice() })),
      state: {
        step: this.step,
        layers: this.layers.map((l) => ({
          weights: l.w.state.map((s) => s.slice()),
          bias: l.b.state.map((s) => s.slice()),
        })),
      },
    };
  }

  async snapshot(): Promise<Snapshot> {
    return this.copy();
  }

  snapshotNow(): Snapshot {
    return this.copy();
  }

  restore(params: LayerParams[], state?: OptimizerState): void {
    this.layers.forEach((l, i) => {
      l.w.value.set(params[i].weights);
      l.b.value.set(params[i].bias);
      if (!state) return;
      for (const [k, s] of l.w.state.entries()) s.set(state.layers[i].weights[k]);
      for (const [k, s] of l.b.state.entries()) s.set(state.layers[i].bias[k]);
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
