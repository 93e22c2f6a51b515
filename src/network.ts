// Network: the public training API of DESIGN.md on any backend. It validates every argument before
// anything changes (spec.ts), owns the epoch loop (shuffling, callbacks, abort, recovery) and the saved
// format (format.ts); the numbers come from the trainer its backend creates (trainer.ts). It imports
// no concrete backend.
import { DeviceLostError, DisposedError, DivergenceError, InvalidArgumentError } from './errors';
import { decodeNetwork, encodeNetwork } from './format';
import { mulberry32, permutation } from './random';
import {
  type CheckedSpec,
  checkBatch,
  checkFitOptions,
  checkHostCapacity,
  checkParams,
  checkRows,
  checkSpec,
  type EpochInfo,
  type FitHistory,
  type FitOptions,
  initialParams,
  type NetworkSpec,
} from './spec';
import {
  emptyState,
  type FitPlan,
  type FitPlanRequest,
  isTrainingBackend,
  type LayerParams,
  type Loss,
  type Metrics,
  type OptimizerConfig,
  type Snapshot,
  type Trainer,
  type TrainingBackend,
} from './trainer';
import type { Activation, Backend } from './types';
import { checkLearningRate, checkPositiveInt, fail } from './validate';

/** Internal: each network's trainer, for the project's own tools (the benchmark). Not exported publicly. */
const trainers = new WeakMap<Network, Trainer>();
export function trainerOf(network: Network): Trainer | undefined {
  return trainers.get(network);
}

/** Set by fromJSON for the constructor it calls: the saved state to start from instead of new weights. */
let loading: Snapshot | undefined;

export class Network {
  readonly inputSize: number;
  readonly layers: readonly { units: number; activation: Activation }[];
  readonly seed: number;
  readonly backend: Backend;
  readonly #backend: TrainingBackend;
  #spec: CheckedSpec;
  #trainer: Trainer | undefined;
  /** Parameters and optimizer state on the host as of the last fit epoch / sync(); undefined when stale. */
  #fresh: Snapshot | undefined;
  /** The latest snapshot taken, even if stale: what recover() restores. */
  #lastGood: Snapshot | undefined;
  /** Training calls run one at a time (predict/evaluate/getWeights may run between their steps). */
  #training = false;

  constructor(backend: Backend, spec: NetworkSpec) {
    const saved = loading;
    loading = undefined;
    if (!isTrainingBackend(backend)) fail('Network', 'backend', backend, 'expected a Backend from createBackend()');
    backend.assertUsable('Network');
    this.#spec = checkSpec(spec);
    // Sizes before allocations: the host's limit, then the backend's (binding, budget, wasm32).
    checkHostCapacity('Network', this.#spec);
    backend.checkCapacity('Network', this.#spec);
    this.inputSize = this.#spec.inputSize;
    this.layers = this.#spec.layers;
    this.seed = this.#spec.seed;
    this.backend = backend;
    this.#backend = backend;
    const { inputSize, layers, optimizer } = this.#spec;
    const snapshot = saved ?? { params: initialParams(this.#spec), state: emptyState(inputSize, layers, optimizer) };
    this.#trainer = backend.createTrainer(this.#trainerSpec(snapshot.params));
    if (saved) this.#trainer.restore(saved.params, saved.state);
    trainers.set(this, this.#trainer);
    this.#snapshot = snapshot;
  }

  #trainerSpec(params: LayerParams[]) {
    const { inputSize, layers, loss, optimizer } = this.#spec;
    return { inputSize, layers: [...layers], loss, optimizer, params };
  }

  /** The host copy; where the trainer can copy at once (cpu, wasm) and no step is running, a fresh one. */
  get #snapshot(): Snapshot | undefined {
    return this.#fresh ?? (this.#training ? undefined : this.#trainer?.snapshotNow?.());
  }

  set #snapshot(snap: Snapshot | undefined) {
    this.#fresh = snap;
    if (snap) this.#lastGood = snap;
  }

  get outputSize(): number {
    return this.layers[this.layers.length - 1].units;
  }

  get optimizer(): Readonly<OptimizerConfig> {
    return this.#spec.optimizer;
  }

  #live(op: string): Trainer {
    if (!this.#trainer) throw new DisposedError(`${op}: this network was destroyed`);
    this.#backend.assertUsable(op);
    return this.#trainer;
  }

  async #exclusive<T>(op: string, f: () => Promise<T>): Promise<T> {
    if (this.#training) {
      throw new InvalidArgumentError(
        `${op}: another trainStep() or fit() is still running on this network (await it first)`,
      );
    }
    this.#training = true;
    try {
      return await f();
    } finally {
      this.#training = false;
    }
  }

  async trainStep(x: Float32Array, y: Float32Array): Promise<number> {
    const trainer = this.#live('trainStep');
    const rows = checkBatch('trainStep', x, y, this.inputSize, this.outputSize, this.loss);
    return this.#exclusive('trainStep', async () => {
      this.#fresh = undefined;
      return await trainer.trainStep(x, y, rows);
    });
  }

  /**
   * What fit() would do for `samples` rows in batches of `batchSize`: where the training set would live
   * (resident, sharded over several GPU buffers, or streamed from host memory), whether batches would run
   * as micro-batches, and the memory it would take. Throws the backend's memory error when nothing fits.
   */
  planFit(request: FitPlanRequest): FitPlan {
    const op = 'planFit';
    const trainer = this.#live(op);
    if (typeof request !== 'object' || request === null)
      fail(op, 'request', request, 'expected { samples, batchSize }');
    const samples = checkPositiveInt(op, 'request.samples', request.samples);
    const batchSize = checkPositiveInt(op, 'request.batchSize', request.batchSize);
    if (request.microBatchSize !== undefined) checkPositiveInt(op, 'request.microBatchSize', request.microBatchSize);
    if (request.stream !== undefined && typeof request.stream !== 'boolean') {
      fail(op, 'request.stream', request.stream, 'expected a boolean');
    }
    return trainer.planFit({ ...request, samples, batchSize });
  }

  /**
   * Trains for `epochs` passes over x, y. Resolves to the history: each epoch's mean training loss, with a
   * validation set its loss (and, for classification, accuracy) at each epoch's end, and the plan fit
   * followed (see planFit).
   */
  async fit(x: Float32Array, y: Float32Array, options: FitOptions): Promise<FitHistory> {
    const op = 'fit';
    this.#live(op);
    const rows = checkBatch(op, x, y, this.inputSize, this.outputSize, this.loss);
    const o = checkFitOptions(op, options, rows);
    const validation = this.#checkValidation(op, o.validation);
    return this.#exclusive(op, async () => {
      const rng = o.shuffle ? mulberry32(o.seed ?? this.seed) : undefined;
      // The last state known to be good: divergence rolls back to it, device loss restarts from it.
      let good = this.#snapshot ?? (await this.#live(op).snapshot());
      const request = { samples: rows, batchSize: o.batchSize, microBatchSize: o.microBatchSize, stream: o.stream };
      const plan = this.#live(op).planFit(request);
      let session = this.#live(op).beginFit(x, y, rows, plan);
      const losses: number[] = [];
      const history: FitHistory = { loss: losses, plan };
      if (validation) history.validationLoss = [];
      if (validation && this.loss === 'crossEntropy') history.validationAccuracy = [];
      const started = performance.now();
      let recoveries = 0;
      try {
        for (let epoch = 0; epoch < o.epochs && !o.signal?.aborted; epoch++) {
          // Drawn once per epoch: an epoch replayed after a device loss sees the same batches in the same order.
          const order = permutation(rows, rng);
          this.#fresh = undefined;
          let result: Awaited<ReturnType<typeof session.runEpoch>>;
          let checked: Metrics | undefined;
          for (;;) {
            try {
              result = await session.runEpoch(order, o.batchSize, () => !!o.signal?.aborted);
              // On the backend, once per epoch; a device lost here replays the epoch like one lost in it.
              if (validation) checked = await this.#live(op).evaluate(validation.x, validation.y, validation.rows);
              break;
            } catch (e) {
              if (!(e instanceof DeviceLostError) || recoveries >= o.maxRecoveries) throw e;
              recoveries++;
              const from = epoch === 0 ? 'taken before fit()' : `of epoch ${epoch - 1}`;
              console.warn(
                `fit: ${e.message}; recovering (${recoveries} of at most ${o.maxRecoveries}) from the snapshot ` +
                  `${from} and running epoch ${epoch} again`,
              );
              o.onRecover?.({ epoch, error: e });
              session.end();
              await this.#rebuild(good);
              session = this.#live(op).beginFit(x, y, rows, this.#live(op).planFit(request));
            }
          }
          if (o.signal?.aborted && result.steps < Math.ceil(rows / o.batchSize)) {
            // Stopped mid-epoch: the steps taken stay (and the snapshot says so), but a partial epoch's
            // loss is not an epoch's loss, so it is neither reported nor returned.
            if (Number.isFinite(result.loss) || result.steps === 0) this.#snapshot = result.snapshot;
            break;
          }
          if (!Number.isFinite(result.loss)) {
            this.#live(op).restore(good.params, good.state);
            this.#snapshot = good;
            const to = epoch === 0 ? 'their values before fit()' : `the end of epoch ${epoch - 1}`;
            throw new DivergenceError(
              `fit: the training loss became ${result.loss} in epoch ${epoch}; the weights were rolled back to ` +
                `${to} (try a lower learning rate)`,
            );
          }
          good = this.#snapshot = result.snapshot;
          losses.push(result.loss);
          const info: EpochInfo = {
            epoch,
            loss: result.loss,
            elapsedMs: performance.now() - started,
            steps: result.steps,
          };
          if (checked) {
            info.validationLoss = checked.loss;
            history.validationLoss?.push(checked.loss);
            if (checked.accuracy !== undefined) {
              info.validationAccuracy = checked.accuracy;
              history.validationAccuracy?.push(checked.accuracy);
            }
          }
          await o.onEpochEnd?.(info);
        }
      } finally {
        session.end();
      }
      return history;
    });
  }

  #checkValidation(op: string, v: FitOptions['validation']) {
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null) fail(op, 'options.validation', v, 'expected { x, y }');
    const names = { x: 'options.validation.x', y: 'options.validation.y' };
    const rows = checkBatch(op, v.x, v.y, this.inputSize, this.outputSize, this.loss, names);
    return { x: v.x, y: v.y, rows };
  }

  /** Replaces the trainer with a new one on the backend's (new) device, holding everything `snap` holds. */
  async #rebuild(snap: Snapshot): Promise<void> {
    await this.#backend.recover();
    this.#trainer?.destroy();
    this.#trainer = undefined;
    const trainer = this.#backend.createTrainer(this.#trainerSpec(snap.params));
    trainer.restore(snap.params, snap.state);
    this.#trainer = trainer;
    trainers.set(this, trainer);
    this.#snapshot = snap;
  }

  /**
   * After the GPU device was lost: opens a new device and restores the weights, biases, optimizer state
   * and step count of the last snapshot (the end of the last fit epoch, or the last sync()). fit() does
   * this by itself.
   */
  async recover(): Promise<void> {
    if (!this.#trainer) throw new DisposedError('recover: this network was destroyed');
    const snap = this.#snapshot ?? this.#lastGood;
    if (!snap) throw new DeviceLostError('recover: no snapshot of the weights was taken before the device was lost');
    await this.#rebuild(snap);
  }

  async predict(x: Float32Array): Promise<Float32Array> {
    const trainer = this.#live('predict');
    return trainer.predict(x, checkRows('predict', 'x', x, this.inputSize, 'inputSize'));
  }

  /** The loss function this network trains with: 'mse' or, with a softmax output, 'crossEntropy'. */
  get loss(): Loss {
    return this.#spec.loss;
  }

  /**
   * The mean loss over x, y, no update. With `{ metrics: true }`: `{ loss, accuracy }`, where accuracy —
   * for classification networks (softmax output) — is the share of rows whose largest output is where the
   * target's largest value is.
   */
  evaluate(x: Float32Array, y: Float32Array): Promise<number>;
  evaluate(x: Float32Array, y: Float32Array, options: { metrics: true }): Promise<Metrics>;
  async evaluate(x: Float32Array, y: Float32Array, options?: { metrics?: boolean }): Promise<number | Metrics> {
    const trainer = this.#live('evaluate');
    const rows = checkBatch('evaluate', x, y, this.inputSize, this.outputSize, this.loss);
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      fail('evaluate', 'options', options, 'expected { metrics: true } or nothing');
    }
    const metrics = await trainer.evaluate(x, y, rows);
    return options?.metrics ? metrics : metrics.loss;
  }

  /** Reads parameters and optimizer state back to the host, so toJSON() can run. */
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
    const params = checkParams('setWeights', 'layers', layers, this.inputSize, this.layers);
    trainer.restore(params);
    if (this.#snapshot) this.#snapshot = { params, state: this.#snapshot.state };
  }

  /** Changes the optimizer's learning rate for the following steps. */
  setLearningRate(learningRate: number): void {
    const trainer = this.#live('setLearningRate');
    checkLearningRate('setLearningRate', 'learningRate', learningRate);
    this.#spec = { ...this.#spec, optimizer: { ...this.#spec.optimizer, learningRate } };
    trainer.setLearningRate(learningRate);
  }

  /**
   * The network as plain JSON: spec, weights and optimizer state, f32 values stored losslessly as
   * base64. Needs a current host copy: fit() keeps one; after trainStep() on WebGPU `await sync()` first.
   */
  toJSON(): object {
    this.#live('toJSON');
    const snap = this.#snapshot;
    if (!snap) {
      throw new InvalidArgumentError(
        'toJSON: the weights on the GPU changed since the last copy to the CPU (trainStep); await network.sync() first',
      );
    }
    return encodeNetwork(this.#spec, snap);
  }

  /** A network from toJSON()'s output (or its JSON text); the whole file is checked before anything is built. */
  static fromJSON(backend: Backend, json: unknown): Network {
    const op = 'Network.fromJSON';
    if (!isTrainingBackend(backend)) fail(op, 'backend', backend, 'expected a Backend from createBackend()');
    backend.assertUsable(op);
    const { spec, params, state } = decodeNetwork(json, (s) => {
      checkHostCapacity(op, s);
      backend.checkCapacity(op, s);
    });
    loading = { params, state };
    try {
      return new Network(backend, spec);
    } finally {
      loading = undefined;
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
