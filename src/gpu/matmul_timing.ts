// Timing a matmul candidate on the GPU, for the tuner (autotune.ts), and the tuner of a device.
// A candidate runs at its shape class's real size (capped on huge shapes, K first) with the epilogue it
// will run with, its pipelines compiled asynchronously first so a network training meanwhile is not
// held up. Where the device has 'timestamp-query', the time is the GPU's own, around many repetitions
// in one pass (Chrome quantises timestamps, to 100 µs unless a developer flag is set, so one short
// dispatch would read 0 or 100 µs); elsewhere it is wall time around onSubmittedWorkDone, started from
// an idle queue. GPU errors of a candidate (a limit it exceeds) reject its timing, inside error scopes
// that are opened and closed around single calls, never across an await, so the errors of work the
// page does meanwhile still reach the device's handler.
import { browserStorage } from '../storage';
import { MatmulTuner } from './autotune';
import type { GpuContext } from './context';
import { encodeDispatch, type GpuResource, type Recording, recordingResources } from './dispatch';
import { matmulRecording } from './kernels/matmul';
import type { MatmulArgs, MatmulShape, MatmulTile } from './kernels/matmul_args';
import { defaultMatmulVariant, matmulCandidates, worthTiming } from './matmul_variants';
import type { AdapterTraits } from './traits';

/** Multiply-adds one timed run may cost: a software adapter runs them on the CPU. */
const WORK_CAP = { software: 2 ** 25, hardware: 2 ** 31 };
/** Bytes of operands a timing may allocate (and at most this share of what a memory budget leaves). */
const BYTES_CAP = 64 * 2 ** 20;
const BUDGET_SHARE = 1 / 8;
/** Capping shrinks K first, down to this: the grid (how the shape fills the GPU) stays as it is. */
const MIN_CAPPED_DEPTH = 256;
/** Each measurement runs for about this long on the GPU, in at most MAX_REPS repetitions. */
const TARGET_MS = { timestamps: 2, wall: 20 };
const MAX_REPS = 64;
const TRIALS = 2;

/** Roughly half of x, with the same remainder mod 4 (so the same vec4 alignment), at least 4. */
function halve(x: number): number {
  return Math.max(4 + (x % 4), 4 * Math.floor(x / 8) + (x % 4));
}

/** The shape a candidate is timed at: the real one, shrunk (K first) until it is cheap enough to run. */
export function timedShape(shape: MatmulShape, traits: AdapterTraits, byteLimit = BYTES_CAP): MatmulShape {
  const cap = traits.software ? WORK_CAP.software : WORK_CAP.hardware;
  let { m, k, n } = shape;
  const bytes = () => (m * k + k * n + 2 * m * n) * 4;
  for (let guard = 0; guard < 64 && (m * k * n > cap || bytes() > byteLimit); guard++) {
    if (k > MIN_CAPPED_DEPTH) k = halve(k);
    else if (m >= n && m > 4) m = halve(m);
    else if (n > 4) n = halve(n);
    else if (k > 4) k = halve(k);
    else break;
  }
  return { ...shape, m, k, n };
}

/** Zero-filled operands for a shape, and the matmul arguments with the shape's epilogue. */
function timingArgs(ctx: GpuContext, s: MatmulShape): { args: MatmulArgs; buffers: GPUBuffer[] } {
  const a = ctx.storage('autotune.a', s.m * s.k);
  const b = ctx.storage('autotune.b', s.k * s.n);
  const c = ctx.storage('autotune.c', s.m * s.n);
  const buffers = [a, b, c];
  const args: MatmulArgs = { a, b, c, m: s.m, n: s.n, k: s.k, transposeA: s.transposeA, transposeB: s.transposeB };
  args.activation = s.activation;
  if (s.epilogue === 'grad') {
    args.derivativeOf = ctx.storage('autotune.y', s.m * s.n);
    buffers.push(args.derivativeOf);
  } else if (s.epilogue === 'sgd') {
    args.sgd = { rate: 0, decay: 0 };
  } else if (s.epilogue === 'add') {
    args.add = true;
  } else if (s.bias) {
    args.bias = ctx.storage('autotune.bias', s.n);
    buffers.push(args.bias);
  }
  return { args, buffers };
}

/** One measurement: `reps` runs of the recording in one pass, GPU time where the device has timestamps. */
async function measure(ctx: GpuContext, r: Recording, reps: number, timestamps: boolean): Promise<number> {
  const { device } = ctx;
  const made: GpuResource[] = [];
  const querySet = timestamps
    ? device.createQuerySet({ label: 'autotune.timestamps', type: 'timestamp', count: 2 })
    : undefined;
  try {
    const encoder = device.createCommandEncoder({ label: 'autotune' });
    const pass = encoder.beginComputePass({
      label: 'autotune',
      timestampWrites: querySet && { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
    for (let i = 0; i < reps; i++) for (const d of r.dispatches) encodeDispatch(pass, d);
    pass.end();
    let staging: GPUBuffer | undefined;
    if (querySet) {
      const resolved = ctx.createBuffer('autotune.resolve', 16, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
      staging = ctx.createBuffer('autotune.readback', 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      made.push(resolved, staging);
      encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, staging, 0, 16);
    } else {
      await device.queue.onSubmittedWorkDone(); // start from an idle queue
    }
    const t0 = performance.now();
    device.pushErrorScope('validation');
    device.queue.submit([encoder.finish()]);
    const error = device.popErrorScope();
    let ms: number;
    if (staging) {
      await staging.mapAsync(GPUMapMode.READ);
      const [begin, end] = new BigUint64Array(staging.getMappedRange(0, 16).slice(0));
      staging.unmap();
      ms = Number(end - begin) / 1e6;
    } else {
      await device.queue.onSubmittedWorkDone();
      ms = performance.now() - t0;
    }
    const e = await error;
    if (e) throw new Error(e.message);
    return ms;
  } finally {
    querySet?.destroy();
    for (const x of made) ctx.release(x);
  }
}

/**
 * Times one candidate on one shape (see the top of this file): milliseconds per run. `timestamps`: GPU
 * time (where the device has 'timestamp-query') or wall time.
 */
export async function timeCandidate(
  ctx: GpuContext,
  name: string,
  tile: MatmulTile,
  shape: MatmulShape,
  timestamps = ctx.traits.timestamps,
) {
  ctx.assertUsable('autotune');
  const room = Number.isFinite(ctx.memoryBudget) ? (ctx.memoryBudget - ctx.bytesInUse) * BUDGET_SHARE : BYTES_CAP;
  const s = timedShape(shape, ctx.traits, Math.min(BYTES_CAP, room, ctx.bindingLimit));
  if ((s.m * s.k + s.k * s.n + 2 * s.m * s.n) * 4 > room) throw new Error('autotune: no room for the operands');
  const label = `autotune.${name}`;
  const { args, buffers } = timingArgs(ctx, s);
  const owned: GpuResource[] = [...buffers];
  ctx.claimAllocations(owned); // checked below, by this candidate, not by a training step meanwhile
  try {
    await ctx.precompile(() => {
      ctx.device.pushErrorScope('validation'); // the real recording below reports what this one hits
      try {
        for (const x of recordingResources(matmulRecording(ctx, label, args, tile))) ctx.release(x);
      } finally {
        void ctx.device.popErrorScope();
      }
    });
    // A candidate the device refuses (a limit) is this candidate's failure, not the page's.
    ctx.device.pushErrorScope('validation');
    const r = matmulRecording(ctx, label, args, tile);
    const refused = ctx.device.popErrorScope();
    owned.push(...recordingResources(r));
    ctx.claimAllocations(owned);
    const error = await refused;
    if (error) throw new Error(error.message);
    await ctx.checkAllocations(owned);
    const target = timestamps ? TARGET_MS.timestamps : TARGET_MS.wall;
    await measure(ctx, r, 1, timestamps); // the first run may still finish compiling on some drivers
    const once = await measure(ctx, r, 1, timestamps);
    const reps = Math.max(1, Math.min(MAX_REPS, Math.ceil(target / Math.max(once, target / MAX_REPS))));
    let best = Infinity;
    for (let t = 0; t < TRIALS; t++) best = Math.min(best, (await measure(ctx, r, reps, timestamps)) / reps);
    return best;
  } finally {
    for (const x of owned) ctx.release(x);
  }
}

/** The tuner of a device: its adapter's candidates and defaults, timing on its GPU. */
export function deviceTuner(ctx: GpuContext, enabled: boolean): MatmulTuner {
  const traits = ctx.traits;
  const agent = typeof navigator === 'undefined' ? 'unknown browser' : navigator.userAgent;
  return new MatmulTuner({
    identity: `${ctx.adapterName} | ${agent}`,
    candidates: matmulCandidates(traits),
    defaultFor: (shape) => defaultMatmulVariant(shape, traits),
    worthTiming: (tile, shape) => worthTiming(tile, shape, traits),
    enabled,
    time: (name, tile, shape) => timeCandidate(ctx, name, tile, shape),
    storage: browserStorage(),
  });
}
