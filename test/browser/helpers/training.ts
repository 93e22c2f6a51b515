// Whole-network helpers for the browser specs: parity of training runs against the CPU reference, and
// training through a lost GPU device.
import * as WB from '../../../src/index';
import type { GpuBackend } from '../../../src/gpu/backend';
import { allclose, type Tolerance } from '../../allclose';
import { liveBuffers, liveTextures } from './counters';
import { classes, dataset } from './data';
import { backendUnderTest, underTest } from './ops';

/** All weights and biases of a network, layer after layer, as one array. */
export async function flatWeights(net: WB.Network): Promise<number[]> {
  return (await net.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
}

export interface ParityArgs {
  spec: WB.NetworkSpec;
  steps: number;
  batch: number;
  mode: 'trainStep' | 'fit';
  lossTol: Tolerance;
  weightTol: Tolerance;
  /** A dedicated backend (of the kind under test) with these options instead of the page's shared one. */
  backendOptions?: WB.BackendOptions;
  /** fit only: also evaluate a validation set (the first two batches) after every epoch, and compare. */
  validate?: boolean;
}

/**
 * Trains the same network (same seed) on the backend under test and on the CPU with the same batches and compares the
 * per-step (trainStep) or per-epoch (fit: two fit calls) losses and the final weights, in the page.
 */
export async function networkParity(args: ParityArgs) {
  const { spec, steps, batch, mode, lossTol, weightTol, backendOptions } = args;
  const own = backendOptions ? await WB.createBackend(underTest.on, backendOptions) : undefined;
  const gpuNet = new WB.Network(own ?? (await backendUnderTest()), spec);
  const cpuNet = new WB.Network(await WB.createBackend('cpu'), spec);
  const out = spec.layers[spec.layers.length - 1].units;
  const rows = mode === 'fit' ? batch * 5 + 3 : batch * 10; // fit: a ragged last batch
  const { x, y } = (spec.loss === 'crossEntropy' ? classes : dataset)(rows, spec.inputSize, out, 1234);
  const validation = args.validate
    ? { x: x.subarray(0, 2 * batch * spec.inputSize), y: y.subarray(0, 2 * batch * out) }
    : undefined;
  const run = async (net: WB.Network) => {
    const losses: number[] = [];
    let history: WB.FitHistory | undefined;
    if (mode === 'fit') {
      // Two fits of the same network, the second on fewer rows (still a ragged last batch), so nothing a fit
      // sets up may leak into the next: the epoch losses and validation figures of both, in order.
      const first = Math.ceil(steps / 2);
      const a = await net.fit(x, y, { epochs: first, batchSize: batch, seed: 77, validation });
      const fewer = rows - batch;
      const b = await net.fit(x.subarray(0, fewer * spec.inputSize), y.subarray(0, fewer * out), {
        epochs: steps - first,
        batchSize: batch,
        seed: 78,
        validation,
      });
      history = {
        ...b,
        loss: [...a.loss, ...b.loss],
        validationLoss: a.validationLoss && b.validationLoss && [...a.validationLoss, ...b.validationLoss],
        validationAccuracy: a.validationAccuracy &&
          b.validationAccuracy && [...a.validationAccuracy, ...b.validationAccuracy],
      };
      losses.push(...history.loss);
    } else {
      for (let s = 0; s < steps; s++) {
        const b = s % (rows / batch);
        losses.push(
          await net.trainStep(
            x.subarray(b * batch * spec.inputSize, (b + 1) * batch * spec.inputSize),
            y.subarray(b * batch * out, (b + 1) * batch * out),
          ),
        );
      }
    }
    const w = await net.getWeights();
    return { losses, history, weights: w.flatMap((l) => [...l.weights, ...l.bias]) };
  };
  try {
    const g = await run(gpuNet);
    const c = await run(cpuNet);
    const initial = new WB.Network(await WB.createBackend('cpu'), spec);
    const w0 = (await initial.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
    initial.destroy();
    let moved = 0;
    for (let i = 0; i < w0.length; i++) moved = Math.max(moved, Math.abs(c.weights[i] - w0[i]));
    // The units whose incoming weights or bias are out of tolerance, as 'layer:unit'.
    const offUnits = new Set<string>();
    let at = 0;
    let maxDiff = 0;
    spec.layers.forEach((layer, l) => {
      const inSize = l === 0 ? spec.inputSize : spec.layers[l - 1].units;
      for (let i = 0; i < (inSize + 1) * layer.units; i++, at++) {
        const [a, e] = [g.weights[at], c.weights[at]];
        maxDiff = Math.max(maxDiff, Math.abs(a - e));
        if (Math.abs(a - e) > weightTol.atol + weightTol.rtol * Math.abs(e)) offUnits.add(`${l}:${i % layer.units}`);
      }
    });
    return {
      lossProblem: allclose(g.losses, c.losses, lossTol),
      weightProblem: allclose(g.weights, c.weights, weightTol),
      offUnits: [...offUnits].slice(0, 10),
      maxDiff,
      losses: [g.losses[0], g.losses[g.losses.length - 1], c.losses[0], c.losses[c.losses.length - 1]],
      count: g.losses.length,
      moved,
      validationLoss:
        g.history?.validationLoss && allclose(g.history.validationLoss, c.history?.validationLoss ?? [], lossTol),
      validationAccuracy: [g.history?.validationAccuracy, c.history?.validationAccuracy],
    };
  } finally {
    gpuNet.destroy();
    cpuNet.destroy();
    own?.destroy();
  }
}

const RECOVERY_SPEC: WB.NetworkSpec = {
  inputSize: 8,
  layers: [
    { units: 16, activation: 'relu' },
    { units: 2, activation: 'sigmoid' },
  ],
  optimizer: { type: 'adam', learningRate: 0.01 },
  seed: 4,
};

/** Runs `f` with console.warn silenced (fit warns about each recovery, which these tests expect). */
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return await f();
  } finally {
    console.warn = warn;
  }
}

/**
 * fit() for 6 epochs (Adam, shuffled, 8 batches each) on a dedicated WebGPU backend, destroying the device
 * after each epoch listed in `loseAfter`, and the same fit without a loss. Returns both runs' epoch
 * losses, whether their saved networks (weights, biases, optimizer moments, step count) are identical
 * byte for byte, and the epochs recovered.
 */
export async function fitThroughDeviceLoss(loseAfter: number[], maxRecoveries?: number) {
  const { x, y } = dataset(256, 8, 2, 21);
  const errors: string[] = [];
  const backend = await WB.createBackend('webgpu', { autotune: false, onError: (e) => errors.push(e.message) });
  const run = async (lose: number[]) => {
    const net = new WB.Network(backend, RECOVERY_SPEC);
    const recovered: number[] = [];
    try {
      const fit = await net.fit(x, y, {
        epochs: 6,
        batchSize: 32,
        seed: 9,
        maxRecoveries,
        onEpochEnd: ({ epoch }) => {
          if (lose.includes(epoch)) backend.device.destroy();
        },
        onRecover: ({ epoch }) => {
          recovered.push(epoch);
        },
      });
      return { losses: fit.loss, saved: JSON.stringify(net), recovered, rejected: '' };
    } catch (e) {
      return { losses: [], saved: '', recovered, rejected: `${(e as Error).name}: ${(e as Error).message}` };
    } finally {
      net.destroy();
    }
  };
  try {
    const plain = await run([]);
    const lost = await quietly(() => run(loseAfter));
    const step = lost.saved ? JSON.parse(lost.saved).optimizerState.step : -1;
    return { plain: plain.losses, lost: lost.losses, identical: plain.saved === lost.saved, step, ...lost, errors };
  } finally {
    backend.destroy();
  }
}

/**
 * Six trainSteps in a row, against three, sync(), a lost device, network.recover() and three more: whether
 * the two networks end identical byte for byte, and how a step on the lost device failed.
 */
export async function recoverAfterDeviceLoss() {
  const { x, y } = dataset(64, 8, 2, 3);
  const backend = await WB.createBackend('webgpu', { autotune: false, onError: () => {} });
  const steps = async (net: WB.Network, from: number, to: number) => {
    for (let s = from; s < to; s++) {
      const b = s % 4;
      await net.trainStep(x.subarray(b * 128, (b + 1) * 128), y.subarray(b * 32, (b + 1) * 32));
    }
  };
  try {
    const plain = new WB.Network(backend, RECOVERY_SPEC);
    await steps(plain, 0, 6);
    await plain.sync();
    const expected = JSON.stringify(plain);
    plain.destroy();
    const net = new WB.Network(backend, RECOVERY_SPEC);
    await steps(net, 0, 3);
    await net.sync();
    backend.device.destroy();
    let whileLost = '';
    try {
      await steps(net, 3, 4);
    } catch (e) {
      whileLost = (e as Error).name;
    }
    await net.recover();
    await steps(net, 3, 6);
    await net.sync();
    const identical = JSON.stringify(net) === expected;
    net.destroy();
    return { identical, whileLost };
  } finally {
    backend.destroy();
  }
}

/**
 * A network whose step needs packed textures (sg32x32) on a backend whose memoryBudget leaves room for
 * everything but them: two trainSteps, each expected to fail with GpuMemoryError and keep nothing.
 */
export async function packedTexturesOverBudget() {
  const spec: WB.NetworkSpec = {
    inputSize: 64,
    // Layer 0 (256×64 outputs) runs r16x16, so its dispatch exists when layer 1's sg32x32 texture fails.
    layers: [
      { units: 64, activation: 'relu' },
      { units: 256, activation: 'linear' },
    ],
    optimizer: { type: 'sgd', learningRate: 0.01 },
    seed: 2,
  };
  const { x, y } = dataset(256, 64, 256, 9);
  // Measure once with room to spare: what the network and its step hold, and how much of it is textures.
  const roomy = (await WB.createBackend('webgpu', { autotune: false })) as GpuBackend;
  const probe = new WB.Network(roomy, spec);
  await probe.trainStep(x, y);
  const textureBytes = [...roomy.ctx.textures].reduce((sum, t) => sum + t.width * t.height * 16, 0);
  const budget = roomy.ctx.bytesInUse - textureBytes + 16;
  probe.destroy();
  roomy.destroy();

  const tight = await WB.createBackend('webgpu', { autotune: false, memoryBudget: budget });
  const net = new WB.Network(tight, spec);
  const before = await flatWeights(net);
  const errors: string[] = [];
  const live: number[] = [];
  for (let i = 0; i < 2; i++) {
    try {
      await net.trainStep(x, y);
    } catch (e) {
      errors.push(`${(e as Error).name}: ${(e as Error).message}`);
    }
    live.push(liveBuffers() * 1000 + liveTextures());
  }
  const unchanged = allclose(await flatWeights(net), before, { rtol: 0, atol: 0 }) === null;
  net.destroy();
  tight.destroy();
  return { textures: textureBytes > 0, errors, live, unchanged };
}
