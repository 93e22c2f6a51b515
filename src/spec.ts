// Validation of what users hand a Network: the spec (layers, optimizer, seed), data rows, weights and
// fit options. Every check throws InvalidArgumentError naming the argument, the value and the rule,
// before anything is allocated or changed. Knows no backend.
import { HostMemoryError } from './errors';
import { initWeights, mulberry32 } from './random';
import {
  type FitPlan,
  type LayerParams,
  type LayerSpec,
  layerShapes,
  type Loss,
  type OptimizerConfig,
  parameterCount,
} from './trainer';
import type { Activation } from './types';
import { checkActivation, checkPositiveInt, fail, firstNonFinite } from './validate';

/**
 * weightDecay (default 0) is decoupled from the gradient, as AdamW (Loshchilov & Hutter) defines it:
 * every update also shrinks each weight by learningRate · weightDecay · W, outside the gradient and the
 * optimizer's state. For plain SGD that equals PyTorch's SGD weight_decay; with momentum or Adam it is
 * AdamW's form, not the L2 term PyTorch's SGD/Adam add to the gradient. Biases are not decayed.
 */
export type OptimizerSpec = { learningRate: number; weightDecay?: number } & (
  | { type: 'sgd' }
  | { type: 'momentum'; momentum: number }
  | { type: 'adam'; beta1?: number; beta2?: number; epsilon?: number }
);

export interface NetworkSpec {
  inputSize: number;
  layers: { units: number; activation: Activation }[];
  /**
   * 'mse' (default), or 'crossEntropy' for classification: the last layer must then be softmax, and the
   * targets are rows of class probabilities (one-hot, or any non-negative rows that sum to 1).
   */
  loss?: Loss;
  /** Defaults to { type: 'sgd', learningRate: 0.01 }. */
  optimizer?: OptimizerSpec;
  /** Same seed ⇒ same initial weights on every backend. Defaults to a random seed (see `seed`). */
  seed?: number;
}

/** A spec after validation, with every default filled in. */
export interface CheckedSpec {
  inputSize: number;
  layers: LayerSpec[];
  loss: Loss;
  optimizer: OptimizerConfig;
  seed: number;
}

export interface EpochInfo {
  /** 0-based epoch index. */
  epoch: number;
  /** Mean training loss over the epoch's samples (before each step's update). */
  loss: number;
  /** Milliseconds since fit() started. */
  elapsedMs: number;
  /** Steps (batches) in this epoch. */
  steps: number;
  /** With fit's validation option: the validation set's mean loss at the epoch's end. */
  validationLoss?: number;
  /** With validation and a softmax output: the share of validation rows classified right. */
  validationAccuracy?: number;
}

/** What fit() resolves to. */
export interface FitHistory {
  /** Each epoch's mean training loss. */
  loss: number[];
  /** With the validation option: the validation set's mean loss after each epoch. */
  validationLoss?: number[];
  /** With validation and a softmax output: its accuracy after each epoch. */
  validationAccuracy?: number[];
  /** How fit held the data and batches (see Network.planFit). */
  plan: FitPlan;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  /** Reshuffle the rows every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the shuffle; defaults to the network's seed. */
  seed?: number;
  /** Called after every epoch; fit waits for a returned promise. */
  onEpochEnd?: (info: EpochInfo) => void | Promise<void>;
  /** Stops training between steps; fit then resolves with the losses of the epochs completed. */
  signal?: AbortSignal;
  /**
   * WebGPU: how many times fit may recover from a lost device (default 2) by opening a new one,
   * restoring the last epoch's snapshot and running that epoch again with the same batches. 0 makes it
   * reject with DeviceLostError instead.
   */
  maxRecoveries?: number;
  /** Told about each recovery from a lost device (fit also logs it with console.warn). */
  onRecover?: (info: { epoch: number; error: Error }) => void;
  /**
   * Held-out rows evaluated at the end of every epoch, on the backend (no readback per batch): their loss
   * and, for classification, accuracy go to onEpochEnd and into fit()'s history.
   */
  validation?: { x: Float32Array; y: Float32Array };
  /**
   * Gradient accumulation: run each batch as micro-batches of at most this many rows and sum their
   * gradients before one update — the same update up to f32 summation order, on less memory. fit()
   * also splits batches by itself when a batch's buffers exceed one binding or the memory budget.
   */
  microBatchSize?: number;
  /**
   * WebGPU: keep the training set in host memory and upload each batch as training goes, even where it
   * would fit on the GPU (fit() streams by itself when the set is over the memory budget).
   */
  stream?: boolean;
}

const OP = 'Network';

/** Fills the optional optimizer fields with the usual defaults and checks every value. */
export function checkOptimizer(spec: unknown): OptimizerConfig {
  if (spec === undefined) return { type: 'sgd', learningRate: 0.01, weightDecay: 0 };
  if (typeof spec !== 'object' || spec === null) {
    fail(OP, 'optimizer', spec, "expected an object like { type: 'sgd', learningRate: 0.01 }");
  }
  const o = spec as Record<string, unknown>;
  const rate = (name: string, value: unknown, rule: string, ok: (v: number) => boolean) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) fail(OP, `optimizer.${name}`, value, rule);
    return value;
  };
  const learningRate = rate('learningRate', o.learningRate, 'expected a finite number > 0', (v) => v > 0);
  const weightDecay = rate('weightDecay', o.weightDecay ?? 0, 'expected a finite number ≥ 0', (v) => v >= 0);
  const unit = (name: string, value: unknown, dflt: number) =>
    rate(name, value ?? dflt, 'expected a number in [0, 1)', (v) => v >= 0 && v < 1);
  switch (o.type) {
    case 'sgd':
      return { type: 'sgd', learningRate, weightDecay };
    case 'momentum':
      return { type: 'momentum', learningRate, weightDecay, momentum: unit('momentum', o.momentum, 0.9) };
    case 'adam':
      return {
        type: 'adam',
        learningRate,
        weightDecay,
        beta1: unit('beta1', o.beta1, 0.9),
        beta2: unit('beta2', o.beta2, 0.999),
        epsilon: rate('epsilon', o.epsilon ?? 1e-8, 'expected a finite number > 0', (v) => v > 0),
      };
    default:
      return fail(OP, 'optimizer.type', o.type, "expected 'sgd', 'momentum' or 'adam'");
  }
}

export function checkSpec(spec: unknown): CheckedSpec {
  if (typeof spec !== 'object' || spec === null)
    fail(OP, 'spec', spec, 'expected { inputSize, layers, optimizer?, seed? }');
  const s = spec as Record<string, unknown>;
  const inputSize = checkPositiveInt(OP, 'inputSize', s.inputSize);
  if (!Array.isArray(s.layers) || s.layers.length === 0) {
    fail(OP, 'layers', s.layers, 'expected a non-empty array of { units, activation }');
  }
  const layers = (s.layers as unknown[]).map((layer, i) => {
    if (typeof layer !== 'object' || layer === null) fail(OP, `layers[${i}]`, layer, 'expected { units, activation }');
    const l = layer as Record<string, unknown>;
    return {
      units: checkPositiveInt(OP, `layers[${i}].units`, l.units),
      activation: checkActivation(OP, `layers[${i}].activation`, l.activation),
    };
  });
  const loss = (s.loss ?? 'mse') as Loss;
  if (loss !== 'mse' && loss !== 'crossEntropy') fail(OP, 'loss', s.loss, "expected 'mse' or 'crossEntropy'");
  // Softmax only as the output layer and only with cross-entropy; cross-entropy only with softmax.
  const last = layers.length - 1;
  layers.forEach(({ activation }, i) => {
    if (activation === 'softmax' && i < last) {
      fail(OP, `layers[${i}].activation`, activation, `softmax is only for the output layer (layers[${last}])`);
    }
  });
  if (layers[last].activation === 'softmax' && loss !== 'crossEntropy') {
    fail(OP, 'loss', s.loss ?? 'mse', "a softmax output layer needs loss: 'crossEntropy'");
  }
  if (loss === 'crossEntropy' && layers[last].activation !== 'softmax') {
    fail(OP, `layers[${last}].activation`, layers[last].activation, "loss 'crossEntropy' needs a softmax output layer");
  }
  let seed: number;
  if (s.seed === undefined) seed = Math.floor(Math.random() * 2 ** 32);
  else if (typeof s.seed !== 'number' || !Number.isInteger(s.seed)) fail(OP, 'seed', s.seed, 'expected an integer');
  else seed = s.seed >>> 0;
  return { inputSize, layers, loss, optimizer: checkOptimizer(s.optimizer), seed };
}

/**
 * The most bytes of weights and biases a network may have on any backend: they are also held on the host
 * (the initial weights, the snapshots fit() and toJSON() use, saved files), as typed arrays.
 */
export const HOST_PARAMETER_LIMIT = 2 ** 31;

const size = (bytes: number) =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Throws HostMemoryError when the network's parameters would not fit the host (see HOST_PARAMETER_LIMIT). */
export function checkHostCapacity(op: string, spec: Pick<CheckedSpec, 'inputSize' | 'layers'>): void {
  const bytes = parameterCount(spec.inputSize, spec.layers) * 4;
  if (bytes > HOST_PARAMETER_LIMIT) {
    const widths = [spec.inputSize, ...spec.layers.map((l) => l.units)].join('→');
    throw new HostMemoryError(
      `${op}: a ${widths} network has ${size(bytes)} of weights and biases (${bytes} bytes), more than the ` +
        `${size(HOST_PARAMETER_LIMIT)} any backend holds on the host (initial weights, snapshots, saved files); ` +
        'nothing was allocated',
    );
  }
}

/** Seeded initial weights (He or Glorot uniform, see random.ts) and zero biases. */
export function initialParams(spec: CheckedSpec): LayerParams[] {
  const rng = mulberry32(spec.seed);
  return layerShapes(spec.inputSize, spec.layers).map(({ inSize, units }, l) => ({
    weights: initWeights(rng, inSize, units, spec.layers[l].activation),
    bias: new Float32Array(units),
  }));
}

/** Checks a Float32Array of whole rows of `width` finite values; returns the row count. */
export function checkRows(op: string, arg: string, data: unknown, width: number, widthName: string): number {
  if (!(data instanceof Float32Array)) fail(op, arg, data, 'expected a Float32Array');
  if (data.length === 0 || data.length % width !== 0) {
    fail(op, arg, data, `expected a non-zero multiple of ${widthName} = ${width} values (whole rows)`);
  }
  const bad = firstNonFinite(data);
  if (bad >= 0) fail(op, arg, data, `element ${bad} is ${data[bad]}; every value must be finite`);
  return data.length / width;
}

/** How far a cross-entropy target row's sum may be from 1 (f32 rounding of soft labels). */
const DISTRIBUTION_TOLERANCE = 1e-4;

/**
 * Checks inputs x and targets y of the same number of rows; returns that number. With cross-entropy each
 * target row must be a distribution over the classes: values ≥ 0 that sum to 1 (one-hot or soft labels).
 */
export function checkBatch(
  op: string,
  x: unknown,
  y: unknown,
  inputSize: number,
  outputSize: number,
  loss: Loss = 'mse',
  names: { x: string; y: string } = { x: 'x', y: 'y' },
): number {
  const rows = checkRows(op, names.x, x, inputSize, 'inputSize');
  const yRows = checkRows(op, names.y, y, outputSize, "the last layer's units");
  if (yRows !== rows) fail(op, names.y, y, `expected ${rows} rows to match ${names.x} (${rows * outputSize} values)`);
  if (loss === 'crossEntropy') {
    const t = y as Float32Array;
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = 0; j < outputSize; j++) {
        const v = t[r * outputSize + j];
        if (v < 0) fail(op, names.y, y, `row ${r} has ${v} at ${j}; cross-entropy targets are probabilities ≥ 0`);
        sum += v;
      }
      if (Math.abs(sum - 1) > DISTRIBUTION_TOLERANCE * outputSize) {
        fail(op, names.y, y, `row ${r} sums to ${sum}; cross-entropy targets are rows that sum to 1 (one-hot)`);
      }
    }
  }
  return rows;
}

/** Checks one { weights, bias } entry per layer of the right lengths and finite values; returns copies. */
export function checkParams(op: string, arg: string, value: unknown, inputSize: number, layers: readonly LayerSpec[]) {
  if (!Array.isArray(value) || value.length !== layers.length) {
    fail(op, arg, value, `expected an array of ${layers.length} { weights, bias } entries, one per layer`);
  }
  return layerShapes(inputSize, layers).map(({ inSize, units }, i): LayerParams => {
    const entry = value[i] as Partial<LayerParams> | null;
    const check = (name: 'weights' | 'bias', count: number, shape: string) => {
      const v = entry?.[name];
      if (!(v instanceof Float32Array) || v.length !== count) {
        fail(op, `${arg}[${i}].${name}`, v, `expected a Float32Array of ${count} values (${shape})`);
      }
      const bad = firstNonFinite(v);
      if (bad >= 0) fail(op, `${arg}[${i}].${name}`, v, `element ${bad} is ${v[bad]}; every value must be finite`);
      return v.slice();
    };
    return {
      weights: check('weights', inSize * units, `${inSize}×${units}`),
      bias: check('bias', units, `1×${units}`),
    };
  });
}

export interface CheckedFitOptions {
  epochs: number;
  batchSize: number;
  shuffle: boolean;
  seed?: number;
  onEpochEnd?: FitOptions['onEpochEnd'];
  signal?: AbortSignal;
  maxRecoveries: number;
  onRecover?: FitOptions['onRecover'];
  microBatchSize?: number;
  stream: boolean;
  validation?: FitOptions['validation'];
}

export function checkFitOptions(op: string, options: unknown, rows: number): CheckedFitOptions {
  if (typeof options !== 'object' || options === null)
    fail(op, 'options', options, 'expected { epochs, batchSize, … }');
  const o = options as FitOptions;
  const epochs = checkPositiveInt(op, 'options.epochs', o.epochs);
  const batchSize = checkPositiveInt(op, 'options.batchSize', o.batchSize);
  if (batchSize > rows) fail(op, 'options.batchSize', batchSize, `expected at most the number of rows (${rows})`);
  const shuffle = o.shuffle ?? true;
  if (typeof shuffle !== 'boolean') fail(op, 'options.shuffle', shuffle, 'expected a boolean');
  if (o.seed !== undefined && !Number.isInteger(o.seed)) fail(op, 'options.seed', o.seed, 'expected an integer');
  for (const name of ['onEpochEnd', 'onRecover'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function')
      fail(op, `options.${name}`, o[name], 'expected a function');
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    fail(op, 'options.signal', o.signal, 'expected an AbortSignal');
  }
  const maxRecoveries = o.maxRecoveries ?? 2;
  if (!Number.isInteger(maxRecoveries) || maxRecoveries < 0) {
    fail(op, 'options.maxRecoveries', maxRecoveries, 'expected an integer ≥ 0');
  }
  if (o.microBatchSize !== undefined) checkPositiveInt(op, 'options.microBatchSize', o.microBatchSize);
  const stream = o.stream ?? false;
  if (typeof stream !== 'boolean') fail(op, 'options.stream', stream, 'expected a boolean');
  return { ...o, epochs, batchSize, shuffle, maxRecoveries, stream };
}
