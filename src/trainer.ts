// The contract between Network (validation, the epoch loop, serialisation) and a backend's trainer
// (the numbers). CpuTrainer is the plain-loop reference; GpuTrainer records whole steps as GPU work.
import type { Activation } from './types';

export interface LayerSpec {
  units: number;
  activation: Activation;
}

export type OptimizerConfig =
  | { type: 'sgd'; learningRate: number }
  | { type: 'momentum'; learningRate: number; momentum: number }
  | { type: 'adam'; learningRate: number; beta1: number; beta2: number; epsilon: number };

export interface LayerParams {
  weights: Float32Array;
  bias: Float32Array;
}

/** Optimizer state: the step count and, per layer, the state tensors of W then those of b ([s1W, s2W, s1b, s2b] for Adam, none for SGD). */
export interface OptimizerState {
  step: number;
  slots: Float32Array[][];
}

/** Everything a trainer needs to build itself; params are the initial weights. */
export interface TrainerInit {
  inputSize: number;
  layers: LayerSpec[];
  optimizer: OptimizerConfig;
  params: LayerParams[];
}

/** Parameters and optimizer state copied to the CPU: what toJSON() saves and recovery restores. */
export interface Snapshot {
  params: LayerParams[];
  state: OptimizerState;
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

export interface Trainer {
  /** One update on one batch of `rows` rows; resolves to the batch's loss before the update. */
  trainStep(x: Float32Array, y: Float32Array, rows: number): Promise<number>;
  beginFit(x: Float32Array, y: Float32Array, rows: number): FitSession;
  predict(x: Float32Array, rows: number): Promise<Float32Array>;
  /** Mean loss over all rows, no update. */
  evaluate(x: Float32Array, y: Float32Array, rows: number): Promise<number>;
  /** Copies parameters and optimizer state to the CPU. */
  snapshot(): Promise<Snapshot>;
  /** Replaces parameters and optimizer state (state may be omitted to keep the current one). */
  restore(params: LayerParams[], state?: OptimizerState): void;
  /** Changes the learning rate for the following steps. */
  setLearningRate(learningRate: number): void;
  destroy(): void;
}

/** How many state tensors per parameter the optimizer keeps. */
export function stateSlots(optimizer: OptimizerConfig): number {
  return optimizer.type === 'sgd' ? 0 : optimizer.type === 'momentum' ? 1 : 2;
}

/** Adam's bias corrections for step t (1-based). */
export function adamCorrections(optimizer: OptimizerConfig, t: number): { c1: number; c2: number } {
  if (optimizer.type !== 'adam') return { c1: 1, c2: 1 };
  return { c1: 1 - optimizer.beta1 ** t, c2: 1 - optimizer.beta2 ** t };
}
