// Matmul autotuning per adapter, as policy: which shape class a matmul falls in, which variant to use
// now, and a background queue that times the candidates of each new class, one class at a time, and
// switches to the fastest when it is known. Until then (and where tuning is off or fails) the class
// uses the untuned default. Choices are kept in memory and in localStorage under the adapter's name,
// the browser's user agent and the candidate list; an entry that does not parse, was made elsewhere,
// or names a variant or class that no longer exists is ignored.
//
// Pure: how a candidate is timed (matmul_timing.ts times it on the GPU) and where choices are stored
// come in as functions, so this runs in Node with fake timings and a fake clock. It does not record or
// re-record anything: whoever recorded work with a variant compares `version` and variantFor() to see
// whether that work is stale (trainer.ts).
import type { MatmulShape, MatmulTile } from './kernels/matmul_args';

/** Milliseconds per run of one candidate on one shape; rejects where the candidate cannot run there. */
export type CandidateTimer = (name: string, tile: MatmulTile, shape: MatmulShape) => Promise<number>;

/** The part of the Web Storage API the cache uses (the page's is src/storage.ts's browserStorage()). */
export interface ChoiceStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface TunerOptions {
  /** Where the choices hold: the adapter and browser (the candidate list is added to it). */
  identity: string;
  candidates: Readonly<Record<string, MatmulTile>>;
  /** The untuned choice for a shape. */
  defaultFor: (shape: MatmulShape) => string;
  /** Whether a candidate is worth timing on a shape (matmul_variants.worthTiming). */
  worthTiming: (tile: MatmulTile, shape: MatmulShape) => boolean;
  enabled: boolean;
  time: CandidateTimer;
  /** localStorage where the page has it; none: choices last as long as the tuner. */
  storage?: ChoiceStorage;
}

export const STORAGE_KEY = 'webgpu-backprop.matmul-autotune.v2';

/** Size buckets, powers of 4: variants win or lose by how a shape fills the GPU, not by exact sizes. */
const BUCKETS = [16, 64, 256, 1024, 4096];

function bucket(x: number): string {
  const b = BUCKETS.find((limit) => x <= limit);
  return b === undefined ? 'huge' : String(b);
}

/** The class a shape is tuned as: form, bucketed M×K×N and the epilogue, e.g. `tn:256x64x1024:sgd`. */
export function shapeClass(s: MatmulShape): string {
  const form = s.transposeA ? 'tn' : s.transposeB ? 'nt' : 'nn';
  return `${form}:${bucket(s.m)}x${bucket(s.k)}x${bucket(s.n)}:${s.epilogue ?? 'forward'}`;
}

const CLASS_PATTERN = /^(nn|tn|nt):\w+x\w+x\w+:(forward|grad|sgd|add)$/;

interface Job {
  shape: MatmulShape;
  done: Promise<string>;
  resolve: (name: string) => void;
}

export class MatmulTuner {
  readonly stats = { tuned: 0, fromCache: 0, rejected: 0 };
  readonly enabled: boolean;
  readonly candidates: Readonly<Record<string, MatmulTile>>;
  readonly #options: TunerOptions;
  readonly #identity: string;
  readonly #choices = new Map<string, string>();
  /** Classes waiting to be timed, in the order asked for; the first is being timed while #running. */
  readonly #queue = new Map<string, Job>();
  /** Classes whose timing failed: they keep the default and are not tried again. */
  readonly #failed = new Set<string>();
  #running?: Promise<void>;
  #version = 0;

  constructor(options: TunerOptions) {
    this.#options = options;
    this.enabled = options.enabled;
    this.candidates = options.candidates;
    this.#identity = `${options.identity} | ${Object.keys(options.candidates).join(',')}`;
    if (this.enabled) this.#load();
  }

  /** Changes whenever a class's choice changes: work recorded at another version may be stale. */
  get version(): number {
    return this.#version;
  }

  /** The variant to use now: the tuned one if known, else the default. Never waits. */
  variantFor(shape: MatmulShape): string {
    return this.#choices.get(shapeClass(shape)) ?? this.#options.defaultFor(shape);
  }

  tileFor(shape: MatmulShape): MatmulTile {
    return this.candidates[this.variantFor(shape)];
  }

  /**
   * Asks for this shape's class to be tuned in the background, unless it is known, queued, failed,
   * tuning is off, or fewer than two candidates are worth timing on it (then the default stands).
   */
  request(shape: MatmulShape): void {
    void this.#enqueue(shape);
  }

  /** Tunes this shape's class now, or waits for the queued tuning; resolves to the chosen name. */
  tune(shape: MatmulShape): Promise<string> {
    return this.#enqueue(shape) ?? Promise.resolve(this.variantFor(shape));
  }

  /** Resolves when nothing is queued (tests, the benchmark). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** The names worth timing on a shape. */
  #contenders(shape: MatmulShape): string[] {
    return Object.entries(this.candidates)
      .filter(([, tile]) => this.#options.worthTiming(tile, shape))
      .map(([name]) => name);
  }

  #enqueue(shape: MatmulShape): Promise<string> | undefined {
    const cls = shapeClass(shape);
    const queued = this.#queue.get(cls);
    if (queued) return queued.done;
    if (!this.enabled || this.#choices.has(cls) || this.#failed.has(cls)) return undefined;
    if (this.#contenders(shape).length < 2) return undefined;
    let resolve: (name: string) => void = () => {};
    const done = new Promise<string>((r) => {
      resolve = r;
    });
    this.#queue.set(cls, { shape, done, resolve });
    this.#running ??= this.#drain();
    return done;
  }

  /** Times the queued classes one after another (candidates of one class never overlap either). */
  async #drain(): Promise<void> {
    try {
      // After the caller's own work: a step that asked is recorded and submitted with the default first.
      await new Promise((resolve) => setTimeout(resolve, 0));
      for (let next = this.#queue.entries().next(); !next.done; next = this.#queue.entries().next()) {
        const [cls, job] = next.value;
        let name: string | undefined;
        try {
          name = await this.#fastest(job.shape);
        } catch {
          name = undefined;
        }
        this.#queue.delete(cls);
        if (name === undefined) {
          this.#failed.add(cls);
        } else {
          this.#set(cls, name);
          this.stats.tuned++;
          this.#save();
        }
        job.resolve(this.variantFor(job.shape));
      }
    } finally {
      this.#running = undefined;
    }
  }

  /** The fastest candidate that runs, or undefined when none did. */
  async #fastest(shape: MatmulShape): Promise<string | undefined> {
    let best: { name: string; ms: number } | undefined;
    for (const name of this.#contenders(shape)) {
      let ms: number;
      try {
        ms = await this.#options.time(name, this.candidates[name], shape);
      } catch {
        continue; // this candidate cannot run here (a limit, a compile error): the others still can
      }
      if (Number.isFinite(ms) && (!best || ms < best.ms)) best = { name, ms };
    }
    return best?.name;
  }

  #set(cls: string, name: string): void {
    if (this.#choices.get(cls) === name) return;
    this.#choices.set(cls, name);
    this.#version++;
  }

  #load(): void {
    let raw: string | null | undefined;
    try {
      raw = this.#options.storage?.getItem(STORAGE_KEY);
    } catch {
      return;
    }
    if (!raw) return;
    let saved: unknown;
    try {
      saved = JSON.parse(raw);
    } catch {
      this.stats.rejected++;
      return;
    }
    const s = saved as { identity?: unknown; choices?: unknown };
    if (
      typeof s !== 'object' ||
      s === null ||
      s.identity !== this.#identity ||
      typeof s.choices !== 'object' ||
      s.choices === null
    ) {
      this.stats.rejected++;
      return;
    }
    for (const [cls, name] of Object.entries(s.choices as Record<string, unknown>)) {
      if (typeof name === 'string' && Object.hasOwn(this.candidates, name) && CLASS_PATTERN.test(cls)) {
        this.#set(cls, name);
        this.stats.fromCache++;
      } else {
        this.stats.rejected++;
      }
    }
  }

  #save(): void {
    try {
      const choices = Object.fromEntries(this.#choices);
      this.#options.storage?.setItem(STORAGE_KEY, JSON.stringify({ identity: this.#identity, choices }));
    } catch {
      // Storage full or disabled: the in-memory choice still holds for this session.
    }
  }
}
