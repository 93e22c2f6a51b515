// Network: the public training API of DESIGN.md on either backend. This module validates every
// argument before anything changes, owns the epoch loop (shuffling, callbacks, abort) and the saved
// format; the numbers are done by the backend's trainer (CpuTrainer, or GpuTrainer's recorded steps).
import type { Activation, Backend } from './types';
import { CpuBackend } from './cpu/backend';
import { CpuTrainer } from './cpu/trainer';
import { GpuBackend } from './gpu/backend';
import { GpuTrainer } from './gpu/scheduler';
import { DeviceLostError, DisposedError, DivergenceError, InvalidArgumentError } from './errors';
import { initWeights, mulberry32, permutation } from './random';
import type { LayerParams, OptimizerConfig, OptimizerState, Snapshot, Trainer } from './trainer';
import { stateSlots } from './trainer';
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
   * restoring the last epoch's snapshot and running that epoch again. 0 makes it reject with
   * DeviceLostError instead.
   */
  maxRecoveries?: number;
  /** Told about each recovery from a lost device (fit also logs it with console.warn). */
  onRecover?: (info: { epoch: number; error: Error }) => void;
}

const FORMAT = 'webgpu-backprop/network';

/** Internal: each network's trainer, for the project's own tools (the benchmark). Not exported publicly. */
const trainers = new WeakMap<Network, Trainer>();
export function trainerOf(network: Network): Trainer | undefined {
  return trainers.get(network);
}
const FORMAT_VERSION = 1;

/** Fills the optional optimizer fields with the usual defaults and checks every value. */
function resolveOptimizer(spec: unknown): OptimizerConfig {
  const op = 'Network';
  if (spec === undefined) return { type: 'sgd', learningRate: 0.01 };
  if (typeof spec !== 'object' || spec === null)
    fail(op, 'optimizer', spec, "expected an object like { type: 'sgd', learningRate: 0.01 }");
  const o = spec as Record<string, unknown>;
  const rate = (name: string, value: unknown, rule: string, ok: (v: number) => boolean) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) fail(op, `optimizer.${name}`, value, rule);
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
      return fail(op, 'optimizer.type', o.type, "expected 'sgd', 'momentum' or 'adam'");
  }
}

function checkSpec(spec: unknown): {
  inputSize: number;
  layers: { units: number; activation: Activation }[];
  seed: number;
} {
  const op = 'Network';
  if (typeof spec !== 'object' || spec === null)
    fail(op, 'spec', spec, 'expected { inputSize, layers, optimizer?, seed? }');
  const s = spec as Record<string, unknown>;
  const inputSize = checkPositiveInt(op, 'inputSize', s.inputSize);
  if (!Array.isArray(s.layers) || s.layers.length === 0)
    fail(op, 'layers', s.layers, 'expected a non-empty array of { units, activation }');
  const layers = (s.layers as unknown[]).map((layer, i) => {
    if (typeof layer !== 'object' || layer === null) fail(op, `layers[${i}]`, layer, 'expected { units, activation }');
    const l = layer as Record<string, unknown>;
    return {
      units: checkPositiveInt(op, `layers[${i}].units`, l.units),
      activation: checkActivation(op, `layers[${i}].activation`, l.activation),
    };
  });
  if (s.loss !== undefined && s.loss !== 'mse') fail(op, 'loss', s.loss, "expected 'mse' (the only loss so far)");
  let seed: number;
  if (s.seed === undefined) seed = Math.floor(Math.random() * 2 ** 32);
  else if (typeof s.seed !== 'number' || !Number.isInteger(s.seed)) fail(op, 'seed', s.seed, 'expected an integer');
  else seed = s.seed >>> 0;
  return { inputSize, layers, seed };
}

/** Checks a Float32Array of whole rows of `width` finite values; returns the row count. */
function checkRows(op: string, arg: string, data: unknown, width: number, widthName: string): number {
  if (!(data instanceof Float32Array)) fail(op, arg, data, 'expected a Float32Array');
  if (data.length === 0 || data.length % width !== 0) {
    fail(op, arg, data, `expected a non-zero multiple of ${widthName} = ${width} values (whole rows)`);
  }
  const bad = firstNonFinite(data);
  if (bad >= 0) fail(op, arg, data, `element ${bad} is ${data[bad]}; every value must be finite`);
  return data.length / width;
}

function encodeF32(a: Float32Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function decodeF32(s: unknown, count: number, what: string): Float32Array {
  if (typeof s !== 'string') fail('Network.fromJSON', what, s, 'expected a base64 string of little-endian f32 values');
  const bin = atob(s);
  if (bin.length !== count * 4)
    fail('Network.fromJSON', what, `${bin.length} bytes`, `expected ${count} f32 values = ${count * 4} bytes`);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

export class Network {
  readonly inputSize: number;
  readonly layers: readonly { units: number; activation: Activation }[];
  readonly seed: number;
  readonly backend: Backend;
  #optimizer: OptimizerConfig;
  #trainer: Trainer | undefined;
  /** Parameters and optimizer state on the CPU as of the last fit epoch / sync(); undefined when stale. */
  #fresh: Snapshot | undefined;
  /** The latest snapshot taken, even if stale: what recover() restores. */
  #lastGood: Snapshot | undefined;
  /** Training calls run one at a time (predict/evaluate/getWeights may run between their steps). */
  #training = false;

  constructor(backend: Backend, spec: NetworkSpec) {
    if (!(backend instanceof CpuBackend) && !(backend instanceof GpuBackend)) {
      fail('Network', 'backend', backend, 'expected a Backend from createBackend()');
    }
    const { inputSize, layers, seed } = checkSpec(spec);
    this.#optimizer = resolveOptimizer(spec.optimizer);
    this.inputSize = inputSize;
    this.layers = layers;
    this.seed = seed;
    this.backend = backend;
    const rng = mulberry32(seed);
    let fanIn = inputSize;
    const params = layers.map((l) => {
      const p = { weights: initWeights(rng, fanIn, l.units, l.activation), bias: new Float32Array(l.units) };
      fanIn = l.units;
      return p;
    });
    const init = { inputSize, layers, optimizer: this.#optimizer, params };
    this.#trainer = backend instanceof GpuBackend ? new GpuTrainer(backend.ctx, init) : new CpuTrainer(init);
    trainers.set(this, this.#trainer);
    this.#snapshot = { params, state: this.#emptyState() };
  }

  get #snapshot(): Snapshot | undefined {
    return this.#fresh;
  }

  set #snapshot(snap: Snapshot | undefined) {
    this.#fresh = snap;
    if (snap) this.#lastGood = snap;
  }

  #emptyState(): OptimizerState {
    const k = stateSlots(this.#optimizer);
    let fanIn = this.inputSize;
    return {
      step: 0,
      slots: this.layers.map((l) => {
        const w = Array.from({ length: k }, () => new Float32Array(fanIn * l.units));
        const b = Array.from({ length: k }, () => new Float32Array(l.units));
        fanIn = l.units;
        return [...w, ...b];
      }),
    };
  }

  get outputSize(): number {
    return this.layers[this.layers.length - 1].units;
  }

  get optimizer(): Readonly<OptimizerConfig> {
    return this.#optimizer;
  }

  #live(op: string): Trainer {
    if (!this.#trainer) throw new DisposedError(`${op}: this network was destroyed`);
    if (this.backend instanceof GpuBackend) this.backend.ctx.assertUsable(op);
    return this.#trainer;
  }

  async #exclusive<T>(op: string, f: () => Promise<T>): Promise<T> {
    if (this.#training)
      throw new InvalidArgumentError(
        `${op}: another trainStep() or fit() is still running on this network (await it first)`,
      );
    this.#training = true;
    try {
      return await f();
    } finally {
      this.#training = false;
    }
  }

  async trainStep(x: Float32Array, y: Float32Array): Promise<number> {
    const trainer = this.#live('trainStep');
    const rows = checkRows('trainStep', 'x', x, this.inputSize, 'inputSize');
    const yRows = checkRows('trainStep', 'y', y, this.outputSize, "the last layer's units");
    if (yRows !== rows)
      fail('trainStep', 'y', y, `expected ${rows} rows to match x (${rows * this.outputSize} values)`);
    return this.#exclusive('trainStep', async () => {
      this.#fresh = undefined;
      const loss = await trainer.trainStep(x, y, rows);
      if (this.backend.kind === 'cpu') this.#snapshot = await trainer.snapshot(); // free on the CPU
      return loss;
    });
  }

  async fit(x: Float32Array, y: Float32Array, options: FitOptions): Promise<{ loss: number[] }> {
    const op = 'fit';
    const trainer = this.#live(op);
    const rows = checkRows(op, 'x', x, this.inputSize, 'inputSize');
    const yRows = checkRows(op, 'y', y, this.outputSize, "the last layer's units");
    if (yRows !== rows) fail(op, 'y', y, `expected ${rows} rows to match x (${rows * this.outputSize} values)`);
    if (typeof options !== 'object' || options === null)
      fail(op, 'options', options, 'expected { epochs, batchSize, … }');
    const epochs = checkPositiveInt(op, 'options.epochs', options.epochs);
    const batchSize = checkPositiveInt(op, 'options.batchSize', options.batchSize);
    if (batchSize > rows) fail(op, 'options.batchSize', batchSize, `expected at most the number of rows (${rows})`);
    const shuffle = options.shuffle ?? true;
    if (typeof shuffle !== 'boolean') fail(op, 'options.shuffle', shuffle, 'expected a boolean');
    if (options.seed !== undefined && !Number.isInteger(options.seed))
      fail(op, 'options.seed', options.seed, 'expected an integer');
    if (options.onEpochEnd !== undefined && typeof options.onEpochEnd !== 'function') {
      fail(op, 'options.onEpochEnd', options.onEpochEnd, 'expected a function');
    }
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      fail(op, 'options.signal', signal, 'expected an AbortSignal');
    const maxRecoveries = options.maxRecoveries ?? 2;
    if (!Number.isInteger(maxRecoveries) || maxRecoveries < 0)
      fail(op, 'options.maxRecoveries', maxRecoveries, 'expected an integer ≥ 0');

    return this.#exclusive(op, async () => {
      const rng = shuffle ? mulberry32(options.seed ?? this.seed) : undefined;
      // The last state known to be good: divergence rolls back to it, device loss restarts from it.
      let good = this.#snapshot ?? (await trainer.snapshot());
      let session = trainer.beginFit(x, y, rows);
      const losses: number[] = [];
      const started = performance.now();
      let recoveries = 0;
      try {
        for (let epoch = 0; epoch < epochs && !signal?.aborted; epoch++) {
          const order = permutation(rows, rng);
          this.#fresh = undefined;
          let result;
          try {
            result = await session.runEpoch(order, batchSize, () => !!signal?.aborted);
          } catch (e) {
            if (!(e instanceof DeviceLostError) || recoveries >= maxRecoveries) throw e;
            recoveries++;
            console.warn(
              `fit: ${e.message}; recovering (${recoveries} of at most ${maxRecoveries}) from the snapshot ` +
                `${epoch === 0 ? 'taken before fit()' : `of epoch ${epoch - 1}`} and running epoch ${epoch} again`,
            );
            options.onRecover?.({ epoch, error: e });
            session.end();
            await this.#rebuild(good);
            session = this.#trainer!.beginFit(x, y, rows);
            epoch--;
            continue;
          }
          if (signal?.aborted && result.steps < Math.ceil(rows / batchSize)) {
            // Stopped mid-epoch: the steps taken stay (and the snapshot says so), but a partial epoch's
            // loss is not an epoch's loss, so it is neither reported nor returned.
            if (Number.isFinite(result.loss) || result.steps === 0) this.#snapshot = result.snapshot;
            break;
          }
          if (!Number.isFinite(result.loss)) {
            this.#live(op).restore(good.params, good.state);
            this.#snapshot = good;
            throw new DivergenceError(
              `fit: the training loss became ${result.loss} in epoch ${epoch}; the weights were rolled back to ` +
                `${epoch === 0 ? 'their values before fit()' : `the end of epoch ${epoch - 1}`} (try a lower learning rate)`,
            );
          }
          good = this.#snapshot = result.snapshot;
          losses.push(result.loss);
          await options.onEpochEnd?.({
            epoch,
            loss: result.loss,
            elapsedMs: performance.now() - started,
            steps: result.steps,
          });
        }
      } finally {
        session.end();
      }
      return { loss: losses };
    });
  }

  /** Replaces the trainer with a new one on the backend's (new) device, holding `snap`. */
  async #rebuild(snap: Snapshot): Promise<void> {
    const backend = this.backend;
    if (!(backend instanceof GpuBackend)) return;
    await backend.recover();
    this.#trainer?.destroy();
    this.#trainer = undefined;
    const trainer = new GpuTrainer(backend.ctx, {
      inputSize: this.inputSize,
      layers: [...this.layers],
      optimizer: this.#optimizer,
      params: snap.params,
    });
    trainer.restore(snap.params, snap.state);
    this.#trainer = trainer;
    trainers.set(this, trainer);
    this.#snapshot = snap;
  }

  /**
   * After the GPU device was lost: opens a new device and restores the weights and optimizer state of
   * the last snapshot (the end of the last fit epoch, or the last sync()). fit() does this by itself.
   */
  async recover(): Promise<void> {
    if (!this.#trainer) throw new DisposedError('recover: this network was destroyed');
    const snap = this.#snapshot ?? this.#lastGood;
    if (!snap) throw new DeviceLostError('recover: no snapshot of the weights was taken before the device was lost');
    await this.#rebuild(snap);
  }

  async predict(x: Float32Array): Promise<Float32Array> {
    const trainer = this.#live('predict');
    const rows = checkRows('predict', 'x', x, this.inputSize, 'inputSize');
    return trainer.predict(x, rows);
  }

  async evaluate(x: Float32Array, y: Float32Array): Promise<number> {
    const trainer = this.#live('evaluate');
    const rows = checkRows('evaluate', 'x', x, this.inputSize, 'inputSize');
    const yRows = checkRows('evaluate', 'y', y, this.outputSize, "the last layer's units");
    if (yRows !== rows) fail('evaluate', 'y', y, `expected ${rows} rows to match x (${rows * this.outputSize} values)`);
    return trainer.evaluate(x, y, rows);
  }

  /** Reads parameters and optimizer state back to the CPU, so toJSON() can run. */
  async sync(): Promise<void> {
    this.#snapshot = await this.#live('sync').snapshot();
  }

  async getWeights(): Promise<LayerParams[]> {
    const snap = this.#snapshot ?? (await this.#live('getWeights').snapshot());
    this.#live('getWeights');
    return snap.params.map((p) => ({ weights: p.weights.slice(), bias: p.bias.slice() }));
  }

  /** Replaces all weights and biases; shapes must match the network's. Optimizer state is kept. */
  setWeights(layers: LayerParams[]): void {
    const trainer = this.#live('setWeights');
    const params = this.#checkParams('setWeights', layers);
    trainer.restore(params);
    if (this.#snapshot) this.#snapshot = { params, state: this.#snapshot.state };
  }

  #checkParams(op: string, layers: unknown): LayerParams[] {
    if (!Array.isArray(layers) || layers.length !== this.layers.length) {
      fail(op, 'layers', layers, `expected an array of ${this.layers.length} { weights, bias } entries, one per layer`);
    }
    let fanIn = this.inputSize;
    return layers.map((entry: unknown, i) => {
      const units = this.layers[i].units;
      const e = entry as Partial<LayerParams> | null;
      for (const [name, count] of [
        ['weights', fanIn * units],
        ['bias', units],
      ] as const) {
        const v = e?.[name];
        if (!(v instanceof Float32Array) || v.length !== count) {
          fail(
            op,
            `layers[${i}].${name}`,
            v,
            `expected a Float32Array of ${count} values (${name === 'weights' ? `${fanIn}×${units}` : `1×${units}`})`,
          );
        }
        const bad = firstNonFinite(v);
        if (bad >= 0) fail(op, `layers[${i}].${name}`, v, `element ${bad} is ${v[bad]}; every value must be finite`);
      }
      fanIn = units;
      return { weights: e!.weights!.slice(), bias: e!.bias!.slice() };
    });
  }

  /** Changes the optimizer's learning rate for the following steps. */
  setLearningRate(learningRate: number): void {
    const trainer = this.#live('setLearningRate');
    if (typeof learningRate !== 'number' || !Number.isFinite(learningRate) || learningRate <= 0) {
      fail('setLearningRate', 'learningRate', learningRate, 'expected a finite number > 0');
    }
    this.#optimizer = { ...this.#optimizer, learningRate };
    trainer.setLearningRate(learningRate);
  }

  /**
   * The network as plain JSON: spec, weights and optimizer state, f32 values stored losslessly as
   * base64. Needs a current CPU copy: fit() keeps one, after trainStep() on WebGPU `await sync()` first.
   */
  toJSON(): object {
    this.#live('toJSON');
    const snap = this.#snapshot;
    if (!snap) {
      throw new InvalidArgumentError(
        'toJSON: the weights on the GPU changed since the last copy to the CPU (trainStep); await network.sync() first',
      );
    }
    return {
      format: FORMAT,
      version: FORMAT_VERSION,
      inputSize: this.inputSize,
      layers: this.layers.map((l) => ({ ...l })),
      loss: 'mse',
      optimizer: { ...this.#optimizer },
      seed: this.seed,
      weights: snap.params.map((p) => ({ weights: encodeF32(p.weights), bias: encodeF32(p.bias) })),
      optimizerState: { step: snap.state.step, slots: snap.state.slots.map((l) => l.map(encodeF32)) },
    };
  }

  static fromJSON(backend: Backend, json: unknown): Network {
    const op = 'Network.fromJSON';
    const j = (typeof json === 'string' ? JSON.parse(json) : json) as Record<string, unknown> | null;
    if (typeof j !== 'object' || j === null || j.format !== FORMAT)
      fail(op, 'json.format', j?.format, `expected '${FORMAT}'`);
    if (j.version !== FORMAT_VERSION) fail(op, 'json.version', j.version, `expected ${FORMAT_VERSION}`);
    const net = new Network(backend, j as unknown as NetworkSpec);
    try {
      const weights = j.weights as { weights: unknown; bias: unknown }[] | undefined;
      if (!Array.isArray(weights) || weights.length !== net.layers.length) {
        fail(op, 'json.weights', weights, `expected ${net.layers.length} entries`);
      }
      let fanIn = net.inputSize;
      const params = net.layers.map((l, i) => {
        const p = {
          weights: decodeF32(weights[i].weights, fanIn * l.units, `json.weights[${i}].weights`),
          bias: decodeF32(weights[i].bias, l.units, `json.weights[${i}].bias`),
        };
        fanIn = l.units;
        return p;
      });
      const saved = j.optimizerState as { step?: unknown; slots?: unknown[][] } | undefined;
      const empty = net.#emptyState();
      const step = saved?.step ?? 0;
      if (typeof step !== 'number' || !Number.isInteger(step) || step < 0)
        fail(op, 'json.optimizerState.step', step, 'expected an integer ≥ 0');
      const slots = empty.slots.map((layer, i) =>
        layer.map((t, k) =>
          saved?.slots ? decodeF32(saved.slots[i]?.[k], t.length, `json.optimizerState.slots[${i}][${k}]`) : t,
        ),
      );
      const state = { step, slots };
      net.#checkParams(op, params);
      net.#trainer!.restore(params, state);
      net.#snapshot = { params, state };
      return net;
    } catch (e) {
      net.destroy();
      throw e;
    }
  }

  /** Frees every buffer the network made. Safe to call twice; later calls throw DisposedError. */
  destroy(): void {
    this.#trainer?.destroy();
    this.#trainer = undefined;
    trainers.delete(this);
    this.#fresh = undefined;
    this.#lastGood = undefined;
  }
}
