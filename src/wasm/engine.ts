// The wasm compute engine: one WebAssembly.Memory, an allocator over it, the kernels compiled from
// src/wasm/assembly, and either a pool of worker threads on a shared memory or one thread (the caller's)
// on an unshared one. Work is given as programs (program.ts): lists of ops encoded once into memory and
// run as often as wanted, every op split among the threads, which meet at a barrier between ops. This is
// the engine under the 'wasm' backend; it knows nothing of matrices, networks or trainers.
//
//   const engine = await WasmEngine.create({ threads: 2 });
//   const a = engine.alloc(m * k, 'a');  engine.f32(a).set(values);   // …b, c likewise
//   const prog = engine.program([{ op: 'gemm', a, b, c, m, n, k, activation: 'relu' }]);
//   await engine.run(prog);  engine.f32(c);  // the result
//   prog.dispose();  engine.destroy();
import { DisposedError, InvalidArgumentError } from '../errors';
import { WasmBuffer } from './buffer';
import { encodeProgram } from './encode';
import { instantiate, loadKernels, type KernelExports } from './kernels';
import * as L from './layout';
import { Allocator, createMemory } from './memory';
import { canStartWorkers, WorkerPool } from './pool';
import type { AnyOp } from './program';

export interface EngineOptions {
  /**
   * Worker threads (default: the cores the browser or OS reports). 1 runs every op on the calling
   * thread. More than one needs SharedArrayBuffer (a cross-origin-isolated page, or Node); without it
   * the engine runs one thread and says why in `threadsReason`.
   */
  threads?: number;
}

/** A program encoded into the engine's memory; run it with WasmEngine.run, free it with dispose(). */
export class WasmProgram {
  #disposed = false;
  /** @internal */
  constructor(
    readonly engine: WasmEngine,
    /** The words in memory. */
    readonly code: WasmBuffer,
    /** Allocations the program reads or writes: each must still be live when it runs. */
    readonly buffers: ReadonlySet<WasmBuffer>,
    readonly label: string,
  ) {}
  get disposed(): boolean {
    return this.#disposed;
  }
  /** Frees the program's words. Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.code.freed && !this.engine.destroyed) this.engine.free(this.code);
  }
}

const THREAD_BYTES = Math.ceil((L.THREAD_FLOATS * 4) / 64) * 64;

function reportedCores(): { cores: number; source: string } {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return { cores: nav.hardwareConcurrency, source: 'navigator.hardwareConcurrency' };
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?(): number } | undefined;
  const cores = os?.availableParallelism?.();
  return cores ? { cores, source: 'os.availableParallelism()' } : { cores: 1, source: 'no core count reported' };
}

/** How many threads to run and why, in words. */
async function chooseThreads(requested: number | undefined): Promise<{ threads: number; reason: string }> {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > 256)) {
    throw new InvalidArgumentError(`WasmEngine.create: threads is ${requested} (expected an integer from 1 to 256)`);
  }
  const { cores, source } = reportedCores();
  const wanted = requested ?? cores;
  const why = requested === undefined ? `${source} is ${cores}` : `threads: ${requested} was asked for`;
  if (wanted === 1) return { threads: 1, reason: `1 thread: ${why}` };
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  if (typeof SharedArrayBuffer !== 'function' || isolated === false) {
    return {
      threads: 1,
      reason:
        `1 thread (${why}): the page is not cross-origin isolated, so it has no SharedArrayBuffer for threads; ` +
        'serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp',
    };
  }
  if (!(await canStartWorkers())) return { threads: 1, reason: `1 thread (${why}): this environment has no workers` };
  return { threads: wanted, reason: `${wanted} threads: ${why}` };
}

export class WasmEngine {
  #destroyed = false;
  #allocations = 0;
  private sharedScratch: { ptr: number; bytes: number };
  /** Runs in call order: each starts when the previous one settled. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Runs queued or running; while any is, freed blocks wait in `pendingFrees`. */
  private pending = 0;
  private pendingFrees: number[] = [];

  private constructor(
    readonly threads: number,
    /** Why this many threads, in words (e.g. "1 thread (…): the page is not cross-origin isolated …"). */
    readonly threadsReason: string,
    /** The kernels use relaxed SIMD (fused multiply-add); otherwise plain SIMD. */
    readonly relaxedSimd: boolean,
    private readonly memory: WebAssembly.Memory,
    private readonly heap: Allocator,
    private readonly kernels: KernelExports,
    private readonly ctrl: number,
    private readonly pool: WorkerPool | undefined,
  ) {
    this.sharedScratch = { ptr: 0, bytes: 0 };
  }

  static async create(options: EngineOptions = {}): Promise<WasmEngine> {
    let { threads, reason } = await chooseThreads(options.threads);
    let shared = threads > 1;
    let made: ReturnType<typeof createMemory>;
    try {
      made = createMemory(shared);
    } catch (e) {
      if (!shared) throw e;
      ({ threads, shared } = { threads: 1, shared: false });
      reason = `1 thread: the browser refused a shared WebAssembly.Memory (${(e as Error).message})`;
      made = createMemory(false);
    }
    const { module, relaxedSimd } = await loadKernels(shared);
    const exports = instantiate(module, made.memory);
    const heap = new Allocator(made.memory, exports.heapBase(), made.limit);
    const ctrl = heap.alloc(L.CTRL_WORDS * 4, 'engine.control');
    const scratch = heap.alloc(threads * THREAD_BYTES, 'engine.threadScratch');
    const words = new Int32Array(made.memory.buffer, ctrl, L.CTRL_WORDS);
    words.fill(0);
    words[L.CTRL_THREAD] = scratch;
    words[L.CTRL_THREAD_BYTES] = THREAD_BYTES;
    let pool: WorkerPool | undefined;
    if (shared) {
      try {
        pool = await WorkerPool.create(module, made.memory, ctrl, threads);
      } catch (e) {
        // e.g. a Content-Security-Policy without worker-src blob: — run on this thread instead (the
        // shared-memory build runs fine single-threaded: with one thread nothing ever waits).
        threads = 1;
        reason = `1 thread: the worker threads could not start (${(e as Error).message})`;
      }
    }
    return new WasmEngine(threads, reason, relaxedSimd, made.memory, heap, exports, ctrl, pool);
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  private live(op: string): void {
    if (this.#destroyed) throw new DisposedError(`${op}: the wasm engine was destroyed`);
  }

  /** Bytes allocated (64-byte rounded), engine bookkeeping included. */
  get bytesInUse(): number {
    return this.heap.bytesInUse;
  }

  /**
   * Of bytesInUse, what the engine holds for itself: its control words and the per-thread and shared
   * scratch (packed GEMM operands, reduction partials), which grows with the largest program made so far.
   */
  get ownBytes(): number {
    const round = (n: number) => Math.ceil(n / 64) * 64;
    return round(L.CTRL_WORDS * 4) + this.threads * THREAD_BYTES + round(this.sharedScratch.bytes);
  }

  /** Bytes the WebAssembly.Memory holds (it grows, never shrinks). */
  get memoryBytes(): number {
    return this.heap.memoryBytes;
  }

  /** The most bytes the memory can grow to (4 GiB, or less where the browser granted less). */
  get memoryLimit(): number {
    return this.heap.limit;
  }

  /** `count` 4-byte elements, 64-byte aligned, contents undefined; throws HostMemoryError past the limit. */
  alloc(count: number, label = 'buffer'): WasmBuffer {
    this.live('alloc');
    if (!Number.isInteger(count) || count < 1) {
      throw new InvalidArgumentError(`alloc: count is ${count} (expected a positive integer) for '${label}'`);
    }
    const buffer = new WasmBuffer(this, this.heap.alloc(count * 4, label), count, label);
    this.#allocations++;
    return buffer;
  }

  /** alloc() calls so far: a step that allocates nothing leaves it as it was. */
  get allocations(): number {
    return this.#allocations;
  }

  /**
   * Frees an allocation (not a sub() window); later allocations reuse its memory. Safe while runs that use
   * it are in flight: the memory is handed back once they have finished.
   */
  free(buffer: WasmBuffer): void {
    this.live('free');
    if (buffer.owner !== this || buffer.root !== buffer) {
      throw new InvalidArgumentError(`free: '${buffer.label}' is not an allocation of this engine`);
    }
    buffer.assertLive('free');
    buffer.markFreed();
    this.release(buffer.ptr);
  }

  private release(ptr: number): void {
    if (this.pending > 0) this.pendingFrees.push(ptr);
    else this.heap.release(ptr);
  }

  /** A Float32Array over the buffer. Make a new one after any alloc: growing the memory detaches views. */
  f32(buffer: WasmBuffer): Float32Array {
    buffer.assertLive('f32');
    return new Float32Array(this.memory.buffer, buffer.ptr, buffer.count);
  }

  /** A Uint32Array over the buffer (indices for gather, offsets); same lifetime rules as f32(). */
  u32(buffer: WasmBuffer): Uint32Array {
    buffer.assertLive('u32');
    return new Uint32Array(this.memory.buffer, buffer.ptr, buffer.count);
  }

  /** Checks and encodes ops into a program (see program.ts for each op's semantics, encode.ts for the checks). */
  program(ops: readonly AnyOp[], label = 'program'): WasmProgram {
    this.live('program');
    const { words, sharedBytes, buffers } = encodeProgram(ops, this, this.threads);
    this.reserveScratch(sharedBytes);
    const code = this.alloc(words.length, `${label}.code`);
    new Int32Array(this.memory.buffer, code.ptr, words.length).set(words);
    return new WasmProgram(this, code, buffers, label);
  }

  /** Grows the shared scratch (packed GEMM operands, reduction partials) to at least `bytes`. */
  private reserveScratch(bytes: number): void {
    if (bytes <= this.sharedScratch.bytes) return;
    const old = this.sharedScratch.ptr;
    this.sharedScratch = { ptr: this.heap.alloc(bytes, 'engine.sharedScratch'), bytes };
    if (old) this.release(old);
  }

  /**
   * Runs a program. Runs execute one at a time in call order, so several may be started without awaiting
   * each. The program and its buffers must be live when run() is called; freeing them afterwards is safe
   * (their memory is handed back once the run is over). Rejects if a gather met an index past its source.
   */
  run(program: WasmProgram): Promise<void> {
    try {
      this.live('run');
      if (program.engine !== this) throw new InvalidArgumentError(`run: '${program.label}' belongs to another engine`);
      if (program.disposed) throw new DisposedError(`run: program '${program.label}' was disposed`);
      for (const b of program.buffers) b.assertLive(`run '${program.label}'`);
    } catch (e) {
      return Promise.reject(e);
    }
    this.pending++;
    // Settled before the caller's await resumes, so memory freed right after a run is reused at once.
    const result = this.queue
      .then(() => this.runNow(program))
      .finally(() => {
        if (--this.pending > 0) return;
        for (const ptr of this.pendingFrees.splice(0)) this.heap.release(ptr);
      });
    this.queue = result.catch(() => {});
    return result;
  }

  /** Eager convenience: encodes, runs and disposes a program of these ops. */
  async runOps(ops: readonly AnyOp[]): Promise<void> {
    const program = this.program(ops, 'eager');
    try {
      await this.run(program);
    } finally {
      program.dispose();
    }
  }

  private async runNow(program: WasmProgram): Promise<void> {
    this.live('run');
    // A fresh view: growing an unshared memory detaches the old buffer.
    const w = new Int32Array(this.memory.buffer, this.ctrl, L.CTRL_WORDS);
    w[L.CTRL_PROGRAM] = program.code.ptr;
    w[L.CTRL_SHARED] = this.sharedScratch.ptr;
    w[L.CTRL_SHARED_BYTES] = this.sharedScratch.bytes;
    w[L.CTRL_TASK] = 0;
    w[L.CTRL_ERROR] = 0;
    if (this.pool) await this.pool.run();
    else this.kernels.run(this.ctrl, 0, 1);
    if (w[L.CTRL_ERROR] === L.ERR_GATHER_INDEX) {
      throw new InvalidArgumentError(
        `run '${program.label}': a gather met an index at or past its source's row count (a zero row was stored)`,
      );
    }
  }

  /**
   * Stops the workers and drops the memory; a run in flight rejects. Buffers and programs become unusable.
   * Safe to call twice.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.pool?.destroy();
  }
}
