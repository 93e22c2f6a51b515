// Matmul autotuning per adapter. On first use of a shape class (the form and the rough size of M, K, N)
// the tuner times every candidate variant on this device and keeps the fastest. Choices are cached in
// memory and in localStorage under the adapter's name and the browser's user agent; an entry that does
// not parse, was made on another adapter or browser, or names a variant that no longer exists is ignored.
import type { TuningStats } from '../types';
import type { GpuContext } from './context';
import { recordingResources } from './dispatch';
import { matmulRecording } from './kernels/matmul';
import type { MatmulShape, MatmulTile } from './kernels/matmul_args';
import { defaultMatmulVariant, matmulCandidates, worthTiming } from './matmul_variants';

const STORAGE_KEY = 'webgpu-backprop.matmul-autotune.v1';
/** Candidates are timed on the real shape with each dimension clamped to this, to keep tuning short. */
const PROXY_LIMIT = 256;
const TIMED_RUNS = 3;

/** Rough size bucket: variants win or lose by how the shape fills workgroups, not by exact sizes. */
function bucket(x: number): string {
  return x <= 16 ? 'xs' : x <= 128 ? 's' : x <= 1024 ? 'm' : 'l';
}

export function shapeClass(s: MatmulShape): string {
  const form = s.transposeA ? 'tn' : s.transposeB ? 'nt' : 'nn';
  return `${form}:${bucket(s.m)}x${bucket(s.k)}x${bucket(s.n)}`;
}

function browserStorage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined; // e.g. storage disabled for this origin
  }
}

export class MatmulTuner {
  readonly stats: Omit<TuningStats, 'enabled'> = { tuned: 0, fromCache: 0, rejected: 0 };
  readonly #choices = new Map<string, string>();
  readonly #pending = new Map<string, Promise<string>>();
  readonly #identity: string;

  constructor(
    private readonly ctx: GpuContext,
    private readonly candidates: Readonly<Record<string, MatmulTile>>,
    private readonly defaultFor: (shape: MatmulShape) => string,
    readonly enabled: boolean,
  ) {
    const agent = typeof navigator === 'undefined' ? 'unknown browser' : navigator.userAgent;
    this.#identity = `${ctx.adapterName} | ${agent} | ${Object.keys(candidates).join(',')}`;
    if (enabled) this.#load();
  }

  /** The tuner for a device: the variants that run there, and the untuned defaults. */
  static forContext(ctx: GpuContext, enabled: boolean): MatmulTuner {
    return new MatmulTuner(
      ctx,
      matmulCandidates(ctx.traits),
      (shape) => defaultMatmulVariant(shape, ctx.traits),
      enabled,
    );
  }

  #load(): void {
    const raw = browserStorage()?.getItem(STORAGE_KEY);
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
      if (typeof name === 'string' && name in this.candidates && /^(nn|tn|nt):\w+x\w+x\w+$/.test(cls)) {
        this.#choices.set(cls, name);
        this.stats.fromCache++;
      } else {
        this.stats.rejected++;
      }
    }
  }

  #save(): void {
    try {
      browserStorage()?.setItem(
        STORAGE_KEY,
        JSON.stringify({ identity: this.#identity, choices: Object.fromEntries(this.#choices) }),
      );
    } catch {
      // Storage full or disabled: the in-memory choice still holds for this session.
    }
  }

  /** The variant to use now: the tuned one if known, else the default. Never waits. */
  variantFor(shape: MatmulShape): string {
    return this.#choices.get(shapeClass(shape)) ?? this.defaultFor(shape);
  }

  tileFor(shape: MatmulShape): MatmulTile {
    return this.candidates[this.variantFor(shape)];
  }

  /** Times the candidates for this shape's class unless already known; resolves to the chosen name. */
  tune(shape: MatmulShape): Promise<string> {
    const cls = shapeClass(shape);
    const known = this.#choices.get(cls);
    if (known || !this.enabled) return Promise.resolve(known ?? this.defaultFor(shape));
    let pending = this.#pending.get(cls);
    if (!pending) {
      pending = this.#time(shape).then((name) => {
        this.#choices.set(cls, name);
        this.#pending.delete(cls);
        this.stats.tuned++;
        this.#save();
        return name;
      });
      this.#pending.set(cls, pending);
    }
    return pending;
  }

  async #time(shape: MatmulShape): Promise<string> {
    const m = Math.min(shape.m, PROXY_LIMIT);
    const k = Math.min(shape.k, PROXY_LIMIT);
    const n = Math.min(shape.n, PROXY_LIMIT);
    const ctx = this.ctx;
    const a = ctx.storage('autotune.a', m * k);
    const b = ctx.storage('autotune.b', k * n);
    const c = ctx.storage('autotune.c', m * n);
    const best = { name: this.defaultFor(shape), ms: Infinity };
    try {
      for (const [name, tile] of Object.entries(this.candidates)) {
        if (!worthTiming(tile, shape, ctx.traits)) continue;
        const d = matmulRecording(
          ctx,
          `autotune.${name}`,
          { a, b, c, m, n, k, transposeA: shape.transposeA, transposeB: shape.transposeB },
          tile,
        );
        try {
          let fastest = Infinity;
          for (let run = 0; run <= TIMED_RUNS; run++) {
            const t0 = performance.now();
            ctx.submit('autotune', [d]);
            await ctx.device.queue.onSubmittedWorkDone();
            if (run > 0) fastest = Math.min(fastest, performance.now() - t0); // run 0 warms the pipeline up
          }
          if (fastest < best.ms) Object.assign(best, { name, ms: fastest });
        } finally {
          for (const r of recordingResources(d)) ctx.release(r);
        }
      }
    } finally {
      for (const buf of [a, b, c]) ctx.release(buf);
    }
    return best.name;
  }
}
