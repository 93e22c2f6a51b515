// The wasm engine's threads: N workers (Web Workers in browsers, worker_threads in Node), each with its
// own instance of the kernels on the one shared memory. A worker sleeps on the control block's JOB word;
// the host bumps it to start a run, every worker runs the whole program as thread `tid`, and the last one
// to finish bumps DONE, which the host awaits without blocking (Atomics.waitAsync, or a message where
// that is missing). Workers are started from source text, so no bundler has to know about them and the
// built library file works as is. Not here: what a run computes (assembly/), when runs happen (engine.ts).
import { CTRL_DONE, CTRL_DONE_COUNT, CTRL_ERROR, CTRL_JOB, CTRL_QUIT, CTRL_WORDS } from './layout';

/** What a worker is told at start. */
interface Init {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: number;
  tid: number;
  threads: number;
  /** Post 'done' instead of relying on the host's Atomics.waitAsync. */
  postDone: boolean;
  words: { JOB: number; DONE: number; DONE_COUNT: number; QUIT: number; ERROR: number; COUNT: number };
}

type Reply = { type: 'ready' } | { type: 'done' } | { type: 'error'; message: string };

// The body of every worker, as source text. Bundlers rewrite `require` and rename identifiers in code they
// can see (a function's toString() would not survive the library build), but leave a string alone. It runs
// as a CommonJS script in Node (with `require`) and as a classic script in a Web Worker (with `self`); its
// only input is the Init message.
const WORKER_SOURCE = `'use strict';
const node = typeof require === 'function';
const port = node ? require('node:worker_threads').parentPort : self;
function start(init) {
  const W = init.words;
  let run;
  try {
    run = new WebAssembly.Instance(init.module, { env: { memory: init.memory } }).exports.run;
  } catch (e) {
    port.postMessage({ type: 'error', message: 'worker ' + init.tid + ' could not instantiate the kernels: ' + e });
    return;
  }
  const ctrl = new Int32Array(init.memory.buffer, init.ctrl, W.COUNT);
  let seen = Atomics.load(ctrl, W.JOB);
  port.postMessage({ type: 'ready' });
  for (;;) {
    Atomics.wait(ctrl, W.JOB, seen);
    const job = Atomics.load(ctrl, W.JOB);
    if (job === seen) continue;
    seen = job;
    if (Atomics.load(ctrl, W.QUIT)) break;
    try {
      run(init.ctrl, init.tid, init.threads);
    } catch (e) {
      // The other threads may now wait forever at a barrier: the host gives up on the whole pool.
      Atomics.store(ctrl, W.ERROR, -1);
      port.postMessage({ type: 'error', message: 'worker ' + init.tid + ': ' + e });
      continue;
    }
    if (Atomics.add(ctrl, W.DONE_COUNT, 1) === init.threads - 1) {
      Atomics.store(ctrl, W.DONE_COUNT, 0);
      Atomics.add(ctrl, W.DONE, 1);
      Atomics.notify(ctrl, W.DONE);
      if (init.postDone) port.postMessage({ type: 'done' });
    }
  }
  if (node) port.close();
  else self.close();
}
if (node) port.once('message', start);
else self.onmessage = (e) => start(e.data);
`;

/** Atomics.waitAsync (ES2024; Chrome, Node 16+), absent from the ES2022 library types. */
type WaitAsync = (
  view: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/** A started worker, whichever kind. */
interface Handle {
  post(message: unknown): void;
  terminate(): void;
  /** Node: whether the worker keeps the process alive (only while a run is in flight). */
  hold(on: boolean): void;
}

type NodeWorker = {
  postMessage(m: unknown): void;
  on(e: string, f: (x: unknown) => void): void;
  terminate(): unknown;
  ref(): void;
  unref(): void;
};
type NodeWorkerModule = { Worker: new (src: string, o: { eval: true }) => NodeWorker };

async function nodeWorkers(): Promise<NodeWorkerModule | undefined> {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?(id: string): unknown } })
    .process;
  if (!proc?.versions?.node) return undefined;
  const id = 'node:worker_threads';
  return (
    (proc.getBuiltinModule?.(id) as NodeWorkerModule) ?? ((await import(/* @vite-ignore */ id)) as NodeWorkerModule)
  );
}

/** Whether this JavaScript environment can start workers at all. */
export async function canStartWorkers(): Promise<boolean> {
  return typeof Worker === 'function' || (await nodeWorkers()) !== undefined;
}

async function spawn(onReply: (r: Reply) => void, onFail: (message: string) => void): Promise<Handle> {
  const node = await nodeWorkers();
  if (node) {
    const w = new node.Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (m) => onReply(m as Reply));
    w.on('error', (e) => onFail(`worker error: ${e}`));
    return {
      post: (m) => w.postMessage(m),
      terminate: () => void w.terminate(),
      hold: (on) => (on ? w.ref() : w.unref()),
    };
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url, { name: 'webgpu-backprop wasm' });
  URL.revokeObjectURL(url);
  w.onmessage = (e) => onReply(e.data as Reply);
  w.onerror = (e) => onFail(`worker error: ${e.message}`);
  return { post: (m) => w.postMessage(m), terminate: () => w.terminate(), hold: () => {} };
}

const START_TIMEOUT_MS = 30_000;

export class WorkerPool {
  private readonly ctrl: Int32Array;
  private failure: string | undefined;
  private failed: (message: string) => void = () => {};
  private finished: () => void = () => {};

  private constructor(
    private readonly workers: Handle[],
    memory: WebAssembly.Memory,
    ctrlPtr: number,
  ) {
    this.ctrl = new Int32Array(memory.buffer, ctrlPtr, CTRL_WORDS);
  }

  /** Starts `threads` workers on `memory` (shared) and resolves once each has its instance. */
  static async create(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    ctrl: number,
    threads: number,
  ): Promise<WorkerPool> {
    const postDone = waitAsync === undefined;
    let ready = 0;
    let pool: WorkerPool | undefined;
    let startup: { resolve(): void; reject(e: Error): void } | undefined;
    const started = new Promise<void>((resolve, reject) => (startup = { resolve, reject }));
    const fail = (message: string) => {
      startup?.reject(new Error(`wasm engine: ${message}`));
      pool?.fail(message);
    };
    const onReply = (r: Reply) => {
      if (r.type === 'ready' && ++ready === threads) startup?.resolve();
      else if (r.type === 'done') pool?.finished();
      else if (r.type === 'error') fail(r.message);
    };
    const workers = await Promise.all(Array.from({ length: threads }, () => spawn(onReply, fail)));
    pool = new WorkerPool(workers, memory, ctrl);
    const words = {
      JOB: CTRL_JOB,
      DONE: CTRL_DONE,
      DONE_COUNT: CTRL_DONE_COUNT,
      QUIT: CTRL_QUIT,
      ERROR: CTRL_ERROR,
      COUNT: CTRL_WORDS,
    };
    for (const [tid, w] of workers.entries()) {
      w.post({ module, memory, ctrl, tid, threads, postDone, words } satisfies Init);
    }
    // A worker that never answers (a blocked script, a browser out of threads) must not hang create().
    const timer = setTimeout(
      () => fail(`the worker threads did not start within ${START_TIMEOUT_MS / 1000} s`),
      START_TIMEOUT_MS,
    );
    try {
      await started;
    } catch (e) {
      pool.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    startup = undefined;
    // Idle workers must not keep a Node process alive; run() holds them while a run is in flight.
    for (const w of workers) w.hold(false);
    return pool;
  }

  private fail(message: string): void {
    this.failure ??= message;
    this.failed(message);
  }

  /** Runs the program the control block names on every worker; rejects if a worker failed. */
  async run(): Promise<void> {
    if (this.failure) throw new Error(`wasm engine: the worker pool failed earlier: ${this.failure}`);
    const ctrl = this.ctrl;
    const done = Atomics.load(ctrl, CTRL_DONE);
    const outcome = new Promise<void>((resolve, reject) => {
      this.failed = (message) => reject(new Error(`wasm engine: ${message}`));
      this.finished = resolve;
    });
    for (const w of this.workers) w.hold(true);
    try {
      Atomics.add(ctrl, CTRL_JOB, 1);
      Atomics.notify(ctrl, CTRL_JOB);
      if (waitAsync) {
        // A wake-up is not a finish: the last worker bumps DONE and then notifies, and if it is descheduled
        // in between, the host may see the new DONE at once, start the next run, and have that run's wait
        // woken by this late notify ("ok", DONE unchanged). So wait until DONE itself has moved.
        while (Atomics.load(ctrl, CTRL_DONE) === done) {
          const wait = waitAsync(ctrl, CTRL_DONE, done);
          if (!wait.async) break;
          await Promise.race([wait.value, outcome]);
        }
      } else {
        await outcome;
      }
    } finally {
      for (const w of this.workers) w.hold(false);
      this.failed = () => {};
      this.finished = () => {};
    }
  }

  /** Asks the workers to leave and terminates them; a run in flight rejects. Safe to call twice. */
  destroy(): void {
    this.fail('the engine was destroyed');
    Atomics.store(this.ctrl, CTRL_QUIT, 1);
    Atomics.add(this.ctrl, CTRL_JOB, 1);
    Atomics.notify(this.ctrl, CTRL_JOB);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
