// Matmul tuning in the page: a network whose tuner has injected timings (background tuning and the
// re-recording of its plans), and the GPU timer on both of its clocks.
import * as WB from '../../../src/index';
import { MatmulTuner } from '../../../src/gpu/autotune';
import type { GpuBackend } from '../../../src/gpu/backend';
import type { GpuTrainer } from '../../../src/gpu/trainer';
import { timeCandidate } from '../../../src/gpu/matmul_timing';
import { defaultMatmulVariant, matmulCandidates, worthTiming } from '../../../src/gpu/matmul_variants';
import { trainerOf } from '../../../src/network';
import { allclose } from '../../allclose';
import { liveBuffers } from './counters';
import { dataset } from './data';
import { gpuErrors } from './ops';
import { flatWeights } from './training';

/**
 * Trains 64 → 64 → 16 with SGD by trainStep on a fresh WebGPU backend whose tuner is told that `winner`
 * is fastest (every other candidate slower), and the same on the CPU. The first step runs before any
 * timing is in (the defaults); then the tuning finishes and the next steps run re-recorded plans.
 * Returns the variants each phase ran, the comparison with the CPU, and the buffers left after destroy.
 */
export async function backgroundTuning(winner: string, steps = 6) {
  const gpu = (await WB.createBackend('webgpu', { autotune: true })) as GpuBackend;
  const timed: string[] = [];
  let release = () => {};
  const busy = new Promise<void>((r) => {
    release = r;
  });
  gpu.useTuner((ctx) => {
    const traits = ctx.traits;
    return new MatmulTuner({
      identity: 'injected',
      candidates: matmulCandidates(traits),
      defaultFor: (s) => defaultMatmulVariant(s, traits),
      worthTiming: (tile, s) => worthTiming(tile, s, traits),
      enabled: true,
      time: async (name) => {
        timed.push(name);
        await busy; // the GPU is "busy timing" until the first step is done
        return name === winner ? 1 : 2;
      },
    });
  });
  const buffersBefore = liveBuffers();
  const spec: WB.NetworkSpec = {
    inputSize: 64,
    layers: [
      { units: 64, activation: 'tanh' },
      { units: 16, activation: 'linear' },
    ],
    optimizer: { type: 'sgd', learningRate: 0.05, weightDecay: 0.01 },
    seed: 3,
  };
  const { x, y } = dataset(64 * steps, 64, 16, 11);
  const nets = [new WB.Network(gpu, spec), new WB.Network(await WB.createBackend('cpu'), spec)];
  const trainer = trainerOf(nets[0]) as GpuTrainer;
  const losses: number[][] = [[], []];
  const variants: string[][] = [];
  for (let s = 0; s < steps; s++) {
    const xs = x.subarray(s * 64 * 64, (s + 1) * 64 * 64);
    const ys = y.subarray(s * 64 * 16, (s + 1) * 64 * 16);
    for (const [i, net] of nets.entries()) losses[i].push(await net.trainStep(xs, ys));
    variants.push(trainer.matmulVariants().sort());
    if (s === 0) {
      release();
      await gpu.tuningIdle();
    }
  }
  const [wGpu, wCpu] = [await flatWeights(nets[0]), await flatWeights(nets[1])];
  const tol = { rtol: 1e-4, atol: 1e-5 };
  const result = {
    timed: [...new Set(timed)].sort(),
    variants,
    losses: allclose(Float32Array.from(losses[0]), Float32Array.from(losses[1]), tol),
    weights: allclose(wGpu, wCpu, tol),
    stats: gpu.tuning,
  };
  nets[0].destroy();
  const leftOver = liveBuffers() - buffersBefore;
  gpu.destroy();
  return { ...result, leftOver };
}

/**
 * Times one candidate with the library's GPU timer, with timestamp queries or by wall time; and a
 * candidate the device must refuse (more invocations than any device allows), which must reject
 * without reporting an error to the page. Milliseconds per run, or the rejection's message.
 */
export async function timeOnGpu(name: string, shape: { m: number; k: number; n: number }, timestamps: boolean) {
  const gpu = (await WB.createBackend('webgpu', {
    autotune: false,
    onError: (e) => gpuErrors.push(e.message),
  })) as GpuBackend;
  const errorsBefore = gpuErrors.length;
  const bytesBefore = gpu.ctx.bytesInUse;
  try {
    const tile = matmulCandidates(gpu.ctx.traits)[name];
    const ms = await timeCandidate(gpu.ctx, name, tile, { ...shape, epilogue: 'sgd' }, timestamps);
    let refused = '';
    try {
      await timeCandidate(gpu.ctx, 'huge', { wgX: 64, wgY: 64, tm: 4, tn: 4 }, shape, timestamps);
    } catch (e) {
      refused = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50)); // let any uncaptured error arrive
    return { ms, refused, errors: gpuErrors.slice(errorsBefore), bytesLeft: gpu.ctx.bytesInUse - bytesBefore };
  } finally {
    gpu.destroy();
  }
}
