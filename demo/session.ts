// A training session: one Network on one backend and one data set, trained in the background with
// fit() and paused by aborting it. It keeps the epoch and step counts, measures throughput, evaluates
// the network (accuracy, test loss, the decision map's grid) and moves the network between backends.
// It knows nothing of the DOM; main.ts drives it and draws what it reports.
import { Network, type Activation, type Backend, type EpochInfo, type Loss, type OptimizerSpec } from '../src/index';
import { argmax, type Dataset } from './datasets';

export interface NetConfig {
  hidden: number[];
  activation: Activation;
  /** crossEntropy: a softmax output; mse: a sigmoid output (one-hot targets are in its [0, 1]). */
  loss: Loss;
  optimizer: OptimizerSpec['type'];
  learningRate: number;
  seed: number;
}

/** The network's view of the data, measured between epochs. */
export interface Evaluation {
  /** On the first `trainRows` training rows (all of them for the 2-D sets). */
  trainAcc: number;
  trainRows: number;
  /** The network's own loss (cross-entropy or MSE) on the test set. */
  testLoss: number;
  testAcc: number;
  /** Outputs for every test row, rows × classes. */
  testOutputs: Float32Array;
  /** Outputs for the decision map's grid, when the session was given one. */
  gridOutputs: Float32Array | null;
  ms: number;
}

export interface EpochReport {
  /** Completed epochs so far (a paused, partial epoch does not count). */
  epoch: number;
  /** False for the partial epoch that a pause cut short. */
  complete: boolean;
  loss: number;
  /** The test set's loss and accuracy, from fit's validation at the epoch's end (complete epochs). */
  testLoss?: number;
  testAcc?: number;
  steps: number;
  stepsPerSec: number;
  samplesPerSec: number;
}

/**
 * Hands the page a turn (input, painting) and comes back at once: a MessageChannel task is not clamped
 * to 4 ms like a nested setTimeout.
 */
export function yieldToPage(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Longest stretch of training without giving the page a turn. */
const MAX_BUSY_MS = 25;

/** Rows of the training set whose accuracy is measured (the digits' 8,000 would cost too much). */
const TRAIN_EVAL_ROWS = 2000;
/** Window over which steps/s and samples/s are averaged. */
const RATE_WINDOW_MS = 2000;

export function buildSpec(config: NetConfig, data: Dataset) {
  const optimizer: OptimizerSpec =
    config.optimizer === 'momentum'
      ? { type: 'momentum', learningRate: config.learningRate, momentum: 0.9 }
      : { type: config.optimizer, learningRate: config.learningRate };
  return {
    inputSize: data.inputSize,
    layers: [
      ...config.hidden.map((units) => ({ units, activation: config.activation })),
      // One-hot targets: a softmax over the classes with cross-entropy, or sigmoid outputs (in the targets'
      // [0, 1]) with MSE, as the demo did before the library had a softmax.
      { units: data.classes, activation: config.loss === 'crossEntropy' ? ('softmax' as const) : ('sigmoid' as const) },
    ],
    loss: config.loss,
    optimizer,
    seed: config.seed,
  };
}

export class Session {
  epoch = 0;
  steps = 0;
  private ctrl?: AbortController;
  private running?: Promise<void>;
  private evalX: Float32Array;
  private trainRows: number;
  /** Per epoch: training time, steps and samples; `first` marks a run's first epoch. */
  private rates: { ms: number; steps: number; samples: number; first: boolean }[] = [];
  private jsonWaiters: { resolve: (json: object) => void; reject: (e: unknown) => void }[] = [];

  constructor(
    public net: Network,
    readonly data: Dataset,
    private readonly grid: Float32Array | null,
  ) {
    // One predict() per evaluation: [first training rows; test rows; grid].
    this.trainRows = Math.min(data.train.rows, TRAIN_EVAL_ROWS);
    const n = data.inputSize;
    this.evalX = new Float32Array((this.trainRows + data.test.rows) * n + (grid?.length ?? 0));
    this.evalX.set(data.train.x.subarray(0, this.trainRows * n));
    this.evalX.set(data.test.x, this.trainRows * n);
    if (grid) this.evalX.set(grid, (this.trainRows + data.test.rows) * n);
  }

  get training(): boolean {
    return this.running !== undefined;
  }

  get backend(): Backend {
    return this.net.backend;
  }

  /**
   * Trains up to `untilEpoch` completed epochs in the background. `onEpoch` runs after every epoch
   * (training waits for it); `onStop` runs once fit() has returned, paused, finished or failed. The
   * promise resolves after that, when the session no longer counts as training; it never rejects.
   */
  start(options: {
    batchSize: number;
    untilEpoch: number;
    onEpoch: (r: EpochReport) => Promise<void>;
    onStop: (error: unknown) => Promise<void>;
  }): Promise<void> {
    if (this.running) return this.running;
    const { batchSize, untilEpoch } = options;
    const train = this.data.train;
    const perEpoch = Math.ceil(train.rows / batchSize);
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    let since = performance.now();
    let lastYield = since;
    let first = true;
    const onEpochEnd = async (info: EpochInfo) => {
      const ms = performance.now() - since;
      const complete = info.steps === perEpoch;
      const samples = complete ? train.rows : Math.min(info.steps * batchSize, train.rows);
      this.steps += info.steps;
      if (complete) this.epoch++;
      this.rates.push({ ms, steps: info.steps, samples, first });
      first = false;
      await this.flushJson();
      const rate = this.rate();
      const test = { testLoss: info.validationLoss, testAcc: info.validationAccuracy };
      await options.onEpoch({ epoch: this.epoch, complete, loss: info.loss, steps: info.steps, ...test, ...rate });
      // fit() on the CPU yields within an epoch only after 30 ms of it, so many short epochs in a row
      // would never let the page paint or take a click: give it a turn between them.
      if (performance.now() - lastYield > MAX_BUSY_MS) {
        await yieldToPage();
        lastYield = performance.now();
      }
      since = performance.now(); // the time spent drawing is not training time
    };
    const run = async () => {
      let error: unknown = null;
      try {
        await this.net.fit(train.x, train.y, {
          epochs: untilEpoch - this.epoch,
          batchSize,
          // A resumed run must not replay the first run's shuffles.
          seed: (this.net.seed * 31 + this.epoch * 7 + this.steps) | 0,
          signal: ctrl.signal,
          // The test set, evaluated by fit on the backend at each epoch's end: the chart's test curves.
          validation: { x: this.data.test.x, y: this.data.test.y },
          onEpochEnd,
        });
      } catch (e) {
        error = e;
      }
      // onStop reports its own failures; nothing here may reject, or pause() would throw.
      await options.onStop(error).catch(() => undefined);
      this.running = undefined;
      this.ctrl = undefined;
      await this.flushJson(true);
    };
    this.running = run();
    return this.running;
  }

  /** Stops training after the current step; resolves once the run and its onStop have finished. */
  async pause(): Promise<void> {
    this.ctrl?.abort();
    await this.running;
  }

  /**
   * Steps and samples per second of training time over the last couple of seconds. A run's first
   * epoch counts only until there is another: it includes uploading the data and, the first time,
   * compiling the GPU kernels, which would drag the rate down long after.
   */
  private rate(): { stepsPerSec: number; samplesPerSec: number } {
    let ms = 0;
    let steps = 0;
    let samples = 0;
    for (let i = this.rates.length - 1; i >= 0 && ms < RATE_WINDOW_MS; i--) {
      if (this.rates[i].first && i < this.rates.length - 1) break;
      ms += this.rates[i].ms;
      steps += this.rates[i].steps;
      samples += this.rates[i].samples;
    }
    if (this.rates.length > 64) this.rates.splice(0, this.rates.length - 64);
    return ms > 0
      ? { stepsPerSec: (steps * 1000) / ms, samplesPerSec: (samples * 1000) / ms }
      : { stepsPerSec: 0, samplesPerSec: 0 };
  }

  /** The network's current outputs for the evaluation rows, with accuracy and test loss. */
  async evaluate(): Promise<Evaluation> {
    const t0 = performance.now();
    const out = await this.predictChunked(this.evalX);
    const { classes, test, train } = this.data;
    let right = 0;
    for (let i = 0; i < this.trainRows; i++) if (argmax(out, i * classes, classes) === train.labels[i]) right++;
    const trainAcc = right / this.trainRows;
    const testOutputs = out.subarray(this.trainRows * classes, (this.trainRows + test.rows) * classes);
    right = 0;
    for (let i = 0; i < test.rows; i++) if (argmax(testOutputs, i * classes, classes) === test.labels[i]) right++;
    return {
      trainAcc,
      trainRows: this.trainRows,
      testLoss: await this.net.evaluate(test.x, test.y),
      testAcc: right / test.rows,
      testOutputs,
      gridOutputs: this.grid ? out.subarray((this.trainRows + test.rows) * classes) : null,
      ms: performance.now() - t0,
    };
  }

  /** predict(), in slices on the CPU backend so that its plain loops never hold the page for long. */
  async predictChunked(x: Float32Array): Promise<Float32Array> {
    const n = this.data.inputSize;
    const rows = x.length / n;
    const chunk = this.backend.kind === 'cpu' ? Math.max(1, Math.floor(200_000 / n)) : rows;
    if (chunk >= rows) return this.net.predict(x);
    const out = new Float32Array(rows * this.data.classes);
    for (let r = 0; r < rows; r += chunk) {
      const part = await this.net.predict(x.subarray(r * n, Math.min(rows, r + chunk) * n));
      out.set(part, r * this.data.classes);
      await yieldToPage();
    }
    return out;
  }

  /**
   * The network as toJSON() gives it. While training, waits for the end of the current epoch (when
   * fit() has just copied the weights to the CPU) instead of stopping the run.
   */
  async toJSON(): Promise<object> {
    if (!this.running) {
      await this.net.sync();
      return this.net.toJSON();
    }
    return new Promise((resolve, reject) => this.jsonWaiters.push({ resolve, reject }));
  }

  /** Answers the waiting toJSON() calls; never rejects (the callers get the error). */
  private async flushJson(sync = false): Promise<void> {
    if (this.jsonWaiters.length === 0) return;
    const waiters = this.jsonWaiters.splice(0);
    try {
      if (sync) await this.net.sync();
      const json = this.net.toJSON();
      for (const w of waiters) w.resolve(json);
    } catch (e) {
      for (const w of waiters) w.reject(e);
    }
  }

  /** Moves the (paused) network to another backend with its weights and optimizer state. */
  async moveTo(backend: Backend): Promise<void> {
    if (this.running) throw new Error('moveTo: pause training first');
    if (backend === this.net.backend) return;
    await this.net.sync();
    const next = Network.fromJSON(backend, this.net.toJSON());
    this.net.destroy();
    this.net = next;
    this.rates = [];
  }

  /** Replaces the network (e.g. with one loaded from a file); the counts start again. */
  replace(net: Network): void {
    if (this.running) throw new Error('replace: pause training first');
    this.net.destroy();
    this.net = net;
    this.epoch = 0;
    this.steps = 0;
    this.rates = [];
  }

  destroy(): void {
    this.net.destroy();
  }
}
