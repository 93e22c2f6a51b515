// Network lifecycle helpers for the browser specs: allocation per step, save and load across backends,
// destroy, and bad input leaving everything as it was.
import * as WB from '../../../src/index';
import { allclose } from '../../allclose';
import { counters, liveBuffers, liveLabels } from './counters';
import { dataset } from './data';
import { gpuBackend } from './ops';
import { flatWeights } from './training';

/** GPU objects made so far, and readbacks started: sampled at the end of each epoch by fitAllocations. */
function mark() {
  return { buffers: counters.buffersCreated, bindGroups: counters.bindGroupsCreated, maps: counters.mapAsyncCalls };
}

/** A 3-epoch fit of 100 equal steps each (one plan) on the page's WebGPU backend, marked at each epoch end. */
export async function fitAllocations() {
  const { x, y } = dataset(1000, 16, 4, 3);
  const net = new WB.Network(await gpuBackend(), {
    inputSize: 16,
    layers: [
      { units: 32, activation: 'relu' },
      { units: 4, activation: 'sigmoid' },
    ],
    optimizer: { type: 'adam', learningRate: 0.01 },
    seed: 1,
  });
  const marks: ReturnType<typeof mark>[] = [];
  await net.fit(x, y, {
    epochs: 3,
    batchSize: 10,
    onEpochEnd: () => {
      marks.push(mark());
    },
  });
  net.destroy();
  return marks;
}

/**
 * A network trained on WebGPU, saved, loaded on the CPU: predictions compared, then the same five steps
 * on both (Adam's moments and step count must have travelled too), then back from the CPU to WebGPU.
 * Also what toJSON says right after a trainStep on WebGPU, and after sync().
 */
export async function saveLoadAcrossBackends() {
  const { x, y } = dataset(64, 8, 3, 9);
  const spec: WB.NetworkSpec = {
    inputSize: 8,
    layers: [
      { units: 16, activation: 'relu' },
      { units: 3, activation: 'linear' },
    ],
    optimizer: { type: 'adam', learningRate: 0.01 },
    seed: 2,
  };
  const exact = { rtol: 1e-6, atol: 1e-7 };
  const gpu = new WB.Network(await gpuBackend(), spec);
  await gpu.fit(x, y, { epochs: 3, batchSize: 16 });
  const cpu = WB.Network.fromJSON(await WB.createBackend('cpu'), JSON.parse(JSON.stringify(gpu)));
  const predict = [allclose(await cpu.predict(x), await gpu.predict(x), exact)];
  const lossesGpu: number[] = [];
  const lossesCpu: number[] = [];
  for (let s = 0; s < 5; s++) {
    const bx = x.subarray(s * 8 * 8, (s + 1) * 8 * 8);
    const by = y.subarray(s * 8 * 3, (s + 1) * 8 * 3);
    lossesGpu.push(await gpu.trainStep(bx, by));
    lossesCpu.push(await cpu.trainStep(bx, by));
  }
  const weights = allclose(await flatWeights(gpu), await flatWeights(cpu), { rtol: 1e-4, atol: 1e-6 });
  const back = WB.Network.fromJSON(await gpuBackend(), JSON.parse(JSON.stringify(cpu)));
  predict.push(allclose(await back.predict(x), await cpu.predict(x), exact));
  let toJsonAfterStep = '';
  try {
    gpu.toJSON();
  } catch (e) {
    toJsonAfterStep = (e as Error).message;
  }
  await gpu.sync();
  const synced = (gpu.toJSON() as { format: string }).format;
  for (const net of [gpu, cpu, back]) net.destroy();
  return { predict, losses: allclose(lossesGpu, lossesCpu, { rtol: 1e-5, atol: 0 }), weights, toJsonAfterStep, synced };
}

/** Buffers a network made and held, those left after destroy() (twice), and what using it then says. */
export async function destroyFreesEverything() {
  const { x, y } = dataset(50, 8, 2, 4);
  const before = liveBuffers();
  const labelsBefore = liveLabels();
  const created = counters.buffersCreated;
  const net = new WB.Network(await gpuBackend(), {
    inputSize: 8,
    layers: [
      { units: 12, activation: 'sigmoid' },
      { units: 2, activation: 'sigmoid' },
    ],
    optimizer: { type: 'momentum', learningRate: 0.1, momentum: 0.9 },
    seed: 1,
  });
  await net.fit(x, y, { epochs: 2, batchSize: 16 });
  await net.trainStep(x, y);
  await net.predict(x);
  await net.evaluate(x, y);
  const alive = liveBuffers() - before;
  net.destroy();
  net.destroy();
  let after = '';
  try {
    await net.predict(x);
  } catch (e) {
    after = `${(e as Error).name}: ${(e as Error).message}`;
  }
  const left = liveLabels().filter((l) => !labelsBefore.includes(l));
  return { made: counters.buffersCreated - created, alive, left, after };
}

/** Six bad calls on a WebGPU network: the error class each threw, and whether the weights stayed as they were. */
export async function badInputLeavesWeights() {
  const net = new WB.Network(await gpuBackend(), {
    inputSize: 4,
    layers: [
      { units: 5, activation: 'relu' },
      { units: 2, activation: 'linear' },
    ],
    seed: 3,
  });
  const { x, y } = dataset(6, 4, 2, 8);
  const before = await flatWeights(net);
  const nan = x.slice();
  nan[3] = NaN;
  const attempts: (() => unknown)[] = [
    () => net.trainStep(x.subarray(0, 5), y),
    () => net.fit(x, y.subarray(0, 4), { epochs: 1, batchSize: 2 }),
    () => net.trainStep(nan, y),
    () => net.fit(x, y, { epochs: 1, batchSize: 0 }),
    () => net.fit(x, y, { epochs: 1, batchSize: 7 }),
    () => net.setLearningRate(-1),
  ];
  const errors: string[] = [];
  for (const f of attempts) {
    try {
      await f();
      errors.push('no error');
    } catch (e) {
      errors.push((e as Error).name);
    }
  }
  const same = allclose(await flatWeights(net), before, { rtol: 0, atol: 0 });
  net.destroy();
  return { errors, same };
}

/**
 * `rounds` rounds of create, fit one epoch, destroy on the page's WebGPU backend, cycling through the
 * optimizers and through resident, streamed and micro-batched fits: live buffers at the peak and after.
 */
export async function leakRounds(rounds: number) {
  const backend = await gpuBackend();
  const { x, y } = dataset(40, 6, 2, 2);
  const before = liveBuffers();
  const optimizers: WB.OptimizerSpec[] = [
    { type: 'adam', learningRate: 0.01 },
    { type: 'momentum', learningRate: 0.01, momentum: 0.9 },
    { type: 'sgd', learningRate: 0.01 },
  ];
  const modes: Partial<WB.FitOptions>[] = [{}, { stream: true }, { microBatchSize: 5 }];
  const seen = new Set<string>();
  let peak = 0;
  for (let i = 0; i < rounds; i++) {
    const net = new WB.Network(backend, {
      inputSize: 6,
      layers: [
        { units: 8, activation: 'relu' },
        { units: 2, activation: 'sigmoid' },
      ],
      optimizer: optimizers[i % 3],
      seed: i,
    });
    const { plan } = await net.fit(x, y, { epochs: 1, batchSize: 16, ...modes[Math.floor(i / 3) % 3] });
    seen.add(`${plan.mode}/${plan.microBatchSize}`);
    peak = Math.max(peak, liveBuffers() - before);
    net.destroy();
  }
  return { left: liveBuffers() - before, peak, seen: [...seen].sort() };
}
