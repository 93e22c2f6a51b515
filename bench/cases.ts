// The benchmark cases: what each one builds, runs and counts (FLOPs, samples), on the library's real API.
// The timing loop that runs them is runner.ts.
import { Network, type Activation, type Backend, type MatmulOptions, type Matrix } from '../src/index';
import { GpuBackend } from '../src/gpu/backend';
import { WasmMatrix } from '../src/wasm/backend';
import { trainerOf } from '../src/network';
import { mulberry32 } from '../src/random';
import type { PhaseTimes } from '../src/trainer';
import type { BenchConfig, CaseResult } from './types';

/** One thing to time on one backend. `flops` is per run; `samples` per run where it means something. */
export interface BenchCase {
  id: string;
  group: CaseResult['group'];
  name: string;
  flops: number;
  samples?: number;
  /** Builds the inputs; returns one run (finished on the GPU when it resolves) and a cleanup. */
  setup(backend: Backend): Promise<{
    run: () => Promise<void>;
    split?: () => Promise<PhaseTimes | undefined>;
    dispose: () => void;
    /** The matmul variant(s) the autotuner chose for this case's shapes (WebGPU). */
    variant?: string;
  }>;
  /** Cases that the CPU backend should not attempt no matter how fast it measured. */
  quick?: boolean;
  /** Where the case means something; all backends when absent. */
  backends?: Backend['kind'][];
}

/** n values uniform in [-1, 1) from the library's seeded generator. */
function random(n: number, seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => 2 * next() - 1);
}

/** Tunes the matmul shapes first (as a network would on first use) and names the chosen variants. */
async function tuned(
  backend: Backend,
  shapes: { m: number; k: number; n: number; transposeA?: boolean; transposeB?: boolean }[],
) {
  if (!(backend instanceof GpuBackend)) return undefined;
  const names: string[] = [];
  for (const s of shapes) names.push(await backend.tuneMatmul(s));
  return [...new Set(names)].join(', ');
}

/**
 * A network's first fit() step on one batch, then the wait for the tuning it started in the background
 * (so no case times a network mid-tuning); names the variants its plans run with from then on.
 */
async function settled(backend: Backend, net: Network, x: Float32Array, y: Float32Array, batch: number) {
  if (!(backend instanceof GpuBackend)) return undefined;
  const outputs = y.length / (x.length / net.inputSize);
  await net.fit(x.subarray(0, batch * net.inputSize), y.subarray(0, batch * outputs), { epochs: 1, batchSize: batch });
  await backend.tuningIdle();
  const trainer = trainerOf(net) as { matmulVariants?: () => string[] } | undefined;
  return trainer?.matmulVariants?.().join(', ');
}

/**
 * Waits until the backend has finished the work that produced `last` (and so all work before it): the GPU
 * queue, or the wasm engine's run (runs execute in order); the CPU backend is synchronous.
 */
async function finish(backend: Backend, last: Matrix): Promise<void> {
  if (backend instanceof GpuBackend) await backend.ctx.device.queue.onSubmittedWorkDone();
  if (last instanceof WasmMatrix) await last.ready;
}

export function matmulCase(m: number, k: number, n: number, form: 'A·B' | 'Aᵀ·B' | 'A·Bᵀ', quick: boolean): BenchCase {
  const opts: MatmulOptions = { transposeA: form === 'Aᵀ·B', transposeB: form === 'A·Bᵀ' };
  return {
    id: `matmul-${form === 'A·B' ? 'ab' : form === 'Aᵀ·B' ? 'atb' : 'abt'}-${m}x${k}x${n}`,
    group: 'matmul',
    name: `${form} ${m}×${k}×${n}`,
    flops: 2 * m * k * n,
    quick,
    async setup(backend) {
      const a = opts.transposeA ? backend.matrix(k, m, random(k * m, 1)) : backend.matrix(m, k, random(m * k, 1));
      const b = opts.transposeB ? backend.matrix(n, k, random(n * k, 2)) : backend.matrix(k, n, random(k * n, 2));
      return {
        variant: await tuned(backend, [{ m, k, n, ...opts }]),
        run: async () => {
          const c = backend.matmul(a, b, opts);
          await finish(backend, c);
          c.dispose();
        },
        dispose: () => {
          a.dispose();
          b.dispose();
        },
      };
    },
  };
}

/** One dense layer, batch × width → width with relu: forward, backward (dW, db, dX) and SGD update. */
function layerCase(width: number, batch: number, quick: boolean): BenchCase {
  return {
    id: `layer-${width}`,
    group: 'layer',
    name: `dense ${width}→${width}, batch ${batch}`,
    flops: 3 * 2 * batch * width * width,
    samples: batch,
    quick,
    async setup(backend) {
      const x = backend.matrix(batch, width, random(batch * width, 3));
      const w = backend.matrix(
        width,
        width,
        random(width * width, 4).map((v) => v / Math.sqrt(width)),
      );
      const bias = backend.matrix(1, width, random(width, 5));
      const dy = backend.matrix(batch, width, random(batch * width, 6));
      return {
        variant: await tuned(backend, [
          { m: batch, k: width, n: width },
          { m: width, k: batch, n: width, transposeA: true },
          { m: batch, k: width, n: width, transposeB: true },
        ]),
        run: async () => {
          const y = backend.matmul(x, w, { bias, activation: 'relu' });
          const dz = backend.activationBackward('relu', y, dy);
          const dw = backend.matmul(x, dz, { transposeA: true });
          const db = backend.biasGrad(dz);
          const dx = backend.matmul(dz, w, { transposeB: true });
          backend.sgdUpdate(w, dw, 1e-6);
          backend.sgdUpdate(bias, db, 1e-6);
          await finish(backend, bias); // updated last
          for (const m of [y, dz, dw, db, dx]) m.dispose();
        },
        dispose: () => {
          for (const m of [x, w, bias, dy]) m.dispose();
        },
      };
    },
  };
}

/** A whole fit() step of an MLP: FLOPs of the forward, dW and dX matmuls (2·batch·in·out each). */
function fitCase(sizes: number[], batch: number, steps: number, quick: boolean): BenchCase {
  let flops = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const mac = batch * sizes[l] * sizes[l + 1];
    flops += 2 * mac * (l === 0 ? 2 : 3); // forward + dW, and dX for every layer but the first
  }
  const layers = sizes
    .slice(1)
    .map((units, i) => ({ units, activation: (i === sizes.length - 2 ? 'linear' : 'relu') as Activation }));
  return {
    id: `fit-${sizes.join('-')}`,
    group: 'fit',
    name: `fit step ${sizes.join('→')}, batch ${batch}`,
    flops,
    samples: batch,
    quick,
    async setup(backend) {
      const net = new Network(backend, {
        inputSize: sizes[0],
        layers,
        optimizer: { type: 'sgd', learningRate: 1e-4 },
        seed: 1,
      });
      const rows = batch * steps;
      const x = random(rows * sizes[0], 7);
      const y = random(rows * sizes[sizes.length - 1], 8);
      const trainer = trainerOf(net);
      return {
        variant: await settled(backend, net, x, y, batch),
        // One epoch of `steps` steps; the timer's run is divided by `steps` (see runCase).
        run: async () => {
          await net.fit(x, y, { epochs: 1, batchSize: batch });
        },
        split: async () => {
          const out = sizes[sizes.length - 1];
          return trainer?.profileStep?.(x.subarray(0, batch * sizes[0]), y.subarray(0, batch * out), batch);
        },
        dispose: () => net.destroy(),
      };
    },
  };
}

/**
 * One fit() epoch over 60,000 × 784 synthetic rows (MNIST's size) in batches of 256, with the training
 * set resident on the GPU or streamed from host memory batch by batch: what streaming costs.
 */
function fitDataCase(stream: boolean): BenchCase {
  const sizes = [784, 128, 10];
  const batch = 256;
  const samples = 60_000;
  const flops = 2 * batch * (784 * 128 * 2 + 128 * 10 * 3);
  return {
    id: `fit-data-${stream ? 'streamed' : 'resident'}`,
    group: 'fit',
    name: `fit 784→128→10, 60,000 rows, ${stream ? 'streamed' : 'resident'}`,
    flops,
    samples: batch,
    quick: false,
    backends: ['webgpu', 'wasm'],
    async setup(backend) {
      const layers = [
        { units: 128, activation: 'relu' as const },
        { units: 10, activation: 'linear' as const },
      ];
      const net = new Network(backend, { inputSize: sizes[0], layers, optimizer: { type: 'sgd', learningRate: 1e-4 } });
      const x = random(samples * sizes[0], 9);
      const y = random(samples * sizes[2], 10);
      const plan = net.planFit({ samples, batchSize: batch, stream });
      const variants = await settled(backend, net, x, y, batch);
      return {
        variant: `${plan.mode}, ${plan.shards} shard(s)${variants ? `; ${variants}` : ''}`,
        run: async () => {
          await net.fit(x, y, { epochs: 1, batchSize: batch, stream });
        },
        dispose: () => net.destroy(),
      };
    },
  };
}

/** Steps per timed fit() call, by case id: more steps amortise the data upload and epoch readback. */
export const FIT_STEPS: Record<string, number> = {
  'fit-784-256-10': 8,
  'fit-data-resident': Math.ceil(60_000 / 256),
  'fit-data-streamed': Math.ceil(60_000 / 256),
  'fit-784-256-64-10': 8,
  'fit-784-1024-1024-10': 4,
  'fit-4096-4096-4096-10': 2,
};

export function allCases(): BenchCase[] {
  return [
    ...[128, 256, 512, 1024, 2048].map((n) => matmulCase(n, n, n, 'A·B', n <= 512)),
    ...(['Aᵀ·B', 'A·Bᵀ'] as const).map((f) => matmulCase(1024, 1024, 1024, f, false)),
    ...(['A·B', 'Aᵀ·B', 'A·Bᵀ'] as const).map((f) => matmulCase(256, 1024, 1024, f, false)),
    ...[256, 1024, 4096].map((w) => layerCase(w, 256, w === 256)),
    fitCase([784, 256, 10], 256, FIT_STEPS['fit-784-256-10'], true),
    fitCase([784, 256, 64, 10], 128, FIT_STEPS['fit-784-256-64-10'], false),
    fitCase([784, 1024, 1024, 10], 256, FIT_STEPS['fit-784-1024-1024-10'], false),
    fitCase([4096, 4096, 4096, 10], 256, FIT_STEPS['fit-4096-4096-4096-10'], false),
    fitDataCase(false),
    fitDataCase(true),
  ];
}

export function selectCases(config: BenchConfig): BenchCase[] {
  const filters =
    config.cases
      ?.split(',')
      .map((f) => f.trim())
      .filter(Boolean) ?? [];
  const all = allCases().filter((c) => !config.quick || c.quick);
  const chosen = all.filter((c) => filters.length === 0 || filters.some((f) => c.id.includes(f)));
  if (chosen.length === 0) {
    throw new Error(
      `bench: --cases "${config.cases}" matches no case id${config.quick ? ' of --quick' : ''} ` +
        `(ids: ${all.map((c) => c.id).join(', ')})`,
    );
  }
  return chosen;
}
