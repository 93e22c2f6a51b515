// The trainer contract: what Network (validation, the epoch loop, the saved format) asks of a backend's
// trainer (the numbers). Each backend implements it and creates its own trainer (TrainingBackend);
// Network imports no concrete backend. Also the one optimizer-state layout every backend uses.
import type { Activation, Backend } from './types';

export interface LayerSpec {
  units: number;
  activation: Activation;
}

/**
 * An optimizer with every default filled in. weightDecay is decoupled from the gradient: each update also
 * shrinks the weights (not the biases) by learningRate · weightDecay · W (AdamW's rule; see spec.ts).
 */
export type OptimizerConfig = { learningRate: number; weightDecay: number } & (
  | { type: 'sgd' }
  | { type: 'momentum'; momentum: number }
  | { type: 'adam'; beta1: number; beta2: number; epsilon: number }
);

/** mse: mean squared error; crossEntropy: −mean over rows of Σ y log p, with a softmax output layer. */
export type Loss = 'mse' | 'crossEntropy';

export interface LayerParams {
  weights: Float32Array;
  bias: Float32Array;
}

/**
 * Optimizer state, the same on every backend: the number of updates taken and, per layer, the state
 * tensors of W (each in × units, row-major like W) and of b, in slot order: none for SGD, [velocity] for
 * momentum, [m, v] (first and second moments) for Adam.
 */
export interface OptimizerState {
  step: number;
  layers: { weights: Float32Array[]; bias: Float32Array[] }[];
}

/** Parameters and optimizer state copied to the host: what toJSON() saves and recovery restores. */
export interface Snapshot {
  params: LayerParams[];
  state: OptimizerState;
}

/** Everything a trainer needs to build itself; params are the initial weights. */
export interface TrainerSpec {
  inputSize: number;
  layers: LayerSpec[];
  loss: Loss;
  optimizer: OptimizerConfig;
  params: LayerParams[];
}

export interface EpochResult {
  /** Mean loss over the samples of the steps run (each batch weighted by its size). */
  loss: number;
  steps: number;
  /** The parameters and optimizer state after the epoch (read back together with the loss). */
  snapshot: Snapshot;
}

/** A data set held by the trainer for the length of one fit() call. */
export interface FitSession {
  /**
   * Runs the steps of one epoch: batches of batchSize rows taken in `order` (the last may be smaller).
   * `shouldStop` is polled between steps; the epoch ends early when it returns true.
   */
  runEpoch(order: Uint32Array, batchSize: number, shouldStop: () => boolean): Promise<EpochResult>;
  /** Frees the data set. */
  end(): void;
}

/** Where fit() keeps the training set: whole in one buffer per tensor, in several, or on the host. */
export type DataMode = 'resident' | 'sharded' | 'streamed';

/** What fit() will do for a number of samples and a batch size, and the memory it will take. */
export interface FitPlan {
  /** resident: the training set in one buffer per tensor; sharded: in several (it is larger than one
   * binding); streamed: it stays in host memory and each batch is uploaded as training goes. */
  mode: DataMode;
  samples: number;
  batchSize: number;
  /** Rows per forward/backward pass: the batch size, or less when batches are split and their gradients
   * summed before one optimizer update (the same update, up to f32 summation order). */
  microBatchSize: number;
  /** Buffers per tensor of the training set: 1 resident, more when sharded, 0 streamed. */
  shards: number;
  /** Bytes: the parameters with their gradients and optimizer state, the per-batch buffers, the training
   * set (or the upload ring when streamed), and their sum. */
  bytes: { parameters: number; batch: number; data: number; total: number };
  /** The limits it was planned against (Infinity where there is none). */
  limits: { maxStorageBufferBindingSize: number; memoryBudget: number };
  /** Why this mode and micro-batch size, in words. */
  reason: string;
}

export interface FitPlanRequest {
  samples: number;
  batchSize: number;
  /** Split each batch into micro-batches of at most this many rows (gradient accumulation). */
  microBatchSize?: number;
  /** Keep the training set in host memory and upload batch by batch even where it would fit. */
  stream?: boolean;
}

/** What evaluate() measures: the mean loss, and for classification (a softmax output) the accuracy. */
export interface Metrics {
  loss: number;
  /** Rows whose largest output is where the target's largest value is, as a share of all rows. */
  accuracy?: number;
}

/** GPU time of a training step's phases and the host-timed loss readback (benchmark only). */
export interface PhaseTimes {
  forwardMs: number;
  backwardMs: number;
  updateMs: number;
  readbackMs: number;
}

export interface Trainer {
  /**
   * Where parameters live in host-addressable memory (cpu, wasm): the same copy as snapshot(), taken at
   * once. Network takes it only when a copy is asked for (toJSON, getWeights) and no step is running, so
   * trainStep copies nothing and toJSON needs no sync() there.
   */
  snapshotNow?(): Snapshot;
  /** One update on one batch of `rows` rows; resolves to the batch's loss before the update. */
  trainStep(x: Float32Array, y: Float32Array, rows: number): Promise<number>;
  /** What fit() will do and need; throws the backend's memory error when nothing fits. */
  planFit(request: FitPlanRequest): FitPlan;
  /** Holds the data set for one fit() that follows `plan` (from planFit for these rows). */
  beginFit(x: Float32Array, y: Float32Array, rows: number, plan: FitPlan): FitSession;
  predict(x: Float32Array, rows: number): Promise<Float32Array>;
  /** Mean loss over all rows, no update; and, for a softmax output, the share of rows classified right. */
  evaluate(x: Float32Array, y: Float32Array, rows: number): Promise<Metrics>;
  /** Copies parameters and optimizer state to the host. */
  snapshot(): Promise<Snapshot>;
  /** Replaces parameters and optimizer state (state may be omitted to keep the current one). */
  restore(params: LayerParams[], state?: OptimizerState): void;
  /** Changes the learning rate for the following steps. */
  setLearningRate(learningRate: number): void;
  /** Benchmark only: one step with its phases timed, where the backend can time them. */
  profileStep?(x: Float32Array, y: Float32Array, rows: number): Promise<PhaseTimes | undefined>;
  destroy(): void;
}

/** What a backend offers beyond the public Backend API so that a Network can train on it. */
export interface TrainingBackend extends Backend {
  /**
   * Throws the backend's memory error, with the sizes, when a network of this shape cannot be held
   * (over a binding, a typed array, wasm32's 4 GiB or the memoryBudget). Allocates nothing.
   */
  checkCapacity(op: string, spec: Omit<TrainerSpec, 'params'>): void;
  createTrainer(spec: TrainerSpec): Trainer;
  /** Throws DisposedError after destroy(), or the device's loss where devices can be lost. */
  assertUsable(op: string): void;
  /** After a lost device: opens a new one. Resolves at once where nothing was lost. */
  recover(): Promise<void>;
}

export function isTrainingBackend(value: unknown): value is TrainingBackend {
  const b = value as Partial<TrainingBackend> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.createTrainer === 'function' &&
    typeof b.checkCapacity === 'function' &&
    typeof b.assertUsable === 'function' &&
    typeof b.recover === 'function'
  );
}

/** in × units of every layer, from the input size on: the fan-in of each layer written once. */
export function layerShapes(inputSize: number, layers: readonly LayerSpec[]): { inSize: number; units: number }[] {
  let inSize = inputSize;
  return layers.map(({ units }) => {
    const shape = { inSize, units };
    inSize = units;
    return shape;
  });
}

/** f32 values of a network's parameters: every layer's weights and bias. */
export function parameterCount(inputSize: number, layers: readonly LayerSpec[]): number {
  return layerShapes(inputSize, layers).reduce((sum, { inSize, units }) => sum + (inSize + 1) * units, 0);
}

/** How many state tensors per parameter the optimizer keeps. */
export function stateSlots(optimizer: OptimizerConfig): number {
  return optimizer.type === 'sgd' ? 0 : optimizer.type === 'momentum' ? 1 : 2;
}

/** Zeroed optimizer state for a network of these layers. */
export function emptyState(
  inputSize: number,
  layers: readonly LayerSpec[],
  optimizer: OptimizerConfig,
): OptimizerState {
  const k = stateSlots(optimizer);
  return {
    step: 0,
    layers: layerShapes(inputSize, layers).map(({ inSize, units }) => ({
      weights: Array.from({ length: k }, () => new Float32Array(inSize * units)),
      bias: Array.from({ length: k }, () => new Float32Array(units)),
    })),
  };
}

/** Adam's bias corrections 1 − β1^t and 1 − β2^t for step t (1-based); 1 for the other optimizers. */
export function adamCorrections(optimizer: OptimizerConfig, t: number): { c1: number; c2: number } {
  if (optimizer.type !== 'adam') return { c1: 1, c2: 1 };
  return { c1: 1 - optimizer.beta1 ** t, c2: 1 - optimizer.beta2 ** t };
}
