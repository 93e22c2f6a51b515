// Validation of what users hand a Network: the spec (layers, optimizer, seed), data rows, weights and
// fit options. Every check throws InvalidArgumentError naming the argument, the value and the rule,
// before anything is allocated or changed. Knows no backend.
import { HostMemoryError } from './errors';
import { initWeights, mulberry32 } from './random';
import { type LayerParams, type LayerSpec, layerShapes, type OptimizerConfig, parameterCount } from './trainer';
import type { Activation } from './types';
import { checkActivation, checkPositiveInt, fail, firstNonFinite } from './validate';

export type OptimizerSpec =
  | { type: 'sgd'; learningRate: number }
  | { type: 'momentum'; learningRate: number; momentum: number }
  | { type: 'adam'; learningRate: number; beta1?: number; beta2?: number; epsilon?: number };

export interface NetworkSpec {
  inputSize: number;
  layers: { units: number; activation: Activation }[];
  loss?: 'mse';
  /** Defaults to { type: 'sgd', learningRate: 0.01 }. */
  optimizer?: OptimizerSpec;
  /** Same seed ⇒ same initial weights on every backend. Defaults to a random seed (see `seed`). */
  seed?: number;
}

/** A spec after validation, with every default filled in. */
export interface CheckedSpec {
  inputSize: number;
  layers: LayerSpec[];
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
  if (spec === undefined) return { type: 'sgd', learningRate: 0.01 };
  if (typeof spec !== 'object' || spec === null) {
    fail(OP, 'optimizer', spec, "expected an object like { type: 'sgd', learningRate: 0.01 }");
  }
  const o = spec as Record<string, unknown>;
  const rate = (name: string, value: unknown, rule: string, ok: (v: number) => boolean) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) fail(OP, `optimizer.${name}`, value, rule);
    return value;
  };
  const learningRate = rate('learningRate', o.learningRate, 'expected a finite number > 0', (v) => v > 0);
  const unit = (name: string, value: unknown, dflt: number) =>
    rate(name, value ?? dflt, 'expected a number in [0, 1)', (v) => v >= 0 && v < 1);
  switch (o.type) {
    case 'sgd':
      return { type: 'sgd', learningRate };
    case 'momentum':
      return { type: 'momentum', learningRate, momentum: unit('momentum', o.momentum, 0.9) };
    case 'adam':
      return {
        type: 'adam',
        learningRate,
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
  if (s.loss !== undefined && s.loss !== 'mse') fail(OP, 'loss', s.loss, "expected 'mse' (the only loss so far)");
  let seed: number;
  if (s.seed === undefined) seed = Math.floor(Math.random() * 2 ** 32);
  else if (typeof s.seed !== 'number' || !Number.isInteger(s.seed)) fail(OP, 'seed', s.seed, 'expected an integer');
  else seed = s.seed >>> 0;
  return { inputSize, layers, optimizer: checkOptimizer(s.optimizer), seed };
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

/** Checks inputs x and targets y of the same number of rows; returns that number. */
export function checkBatch(op: string, x: unknown, y: unknown, inputSize: number, outputSize: number): number {
  const rows = checkRows(op, 'x', x, inputSize, 'inputSize');
  const yRows = checkRows(op, 'y', y, outputSize, "the last layer's units");
  if (yRows !== rows) fail(op, 'y', y, `expected ${rows} rows to match x (${rows * outputSize} values)`);
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
