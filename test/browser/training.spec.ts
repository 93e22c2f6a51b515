// Network behaviour on WebGPU: it learns, a fit step allocates nothing, save/load crosses backends,
// destroy frees everything, and bad input changes nothing.
import { test, expect } from './fixtures';

test('XOR reaches loss < 0.01 on WebGPU and on the CPU', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const { WB, T } = window;
    const x = Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1);
    const y = Float32Array.of(0, 1, 1, 0);
    const spec = {
      inputSize: 2,
      layers: [
        { units: 8, activation: 'sigmoid' as const },
        { units: 1, activation: 'sigmoid' as const },
      ],
      optimizer: { type: 'adam' as const, learningRate: 0.05 },
      seed: 7,
    };
    const out: Record<string, number> = {};
    for (const backend of [await T.gpuBackend(), await WB.createBackend('cpu')]) {
      const net = new WB.Network(backend, spec);
      const fit = await net.fit(x, y, { epochs: 400, batchSize: 4 });
      out[backend.kind] = await net.evaluate(x, y);
      out[`${backend.kind}.first`] = fit.loss[0];
      net.destroy();
    }
    return out;
  });
  expect(r['webgpu.first']).toBeGreaterThan(0.2);
  expect(r.webgpu).toBeLessThan(0.01);
  expect(r.cpu).toBeLessThan(0.01);
});

test('a 3-arm spiral of 300 points reaches ≥ 95% training accuracy on WebGPU', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const { WB, T } = window;
    const { x, y, labels } = T.spiral(100, 3, 0.15, 11);
    const net = new WB.Network(await T.gpuBackend(), {
      inputSize: 2,
      layers: [
        { units: 32, activation: 'relu' },
        { units: 32, activation: 'relu' },
        { units: 3, activation: 'sigmoid' },
      ],
      optimizer: { type: 'adam', learningRate: 0.02 },
      seed: 5,
    });
    const fit = await net.fit(x, y, { epochs: 300, batchSize: 64 });
    const accuracy = T.accuracy(await net.predict(x), labels, 3);
    net.destroy();
    return { accuracy, first: fit.loss[0], last: fit.loss[fit.loss.length - 1] };
  });
  expect(r.last).toBeLessThan(r.first);
  expect(r.accuracy).toBeGreaterThanOrEqual(0.95);
});

test('fit allocates nothing per step and reads back once per epoch', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const { WB, T } = window;
    const { x, y } = T.dataset(1000, 16, 4, 3);
    const net = new WB.Network(await T.gpuBackend(), {
      inputSize: 16,
      layers: [
        { units: 32, activation: 'relu' },
        { units: 4, activation: 'sigmoid' },
      ],
      optimizer: { type: 'adam', learningRate: 0.01 },
      seed: 1,
    });
    const marks: { buffers: number; bindGroups: number; maps: number }[] = [];
    const mark = () =>
      marks.push({
        buffers: T.counters.buffersCreated,
        bindGroups: T.counters.bindGroupsCreated,
        maps: T.counters.mapAsyncCalls,
      });
    // batch 10 → 100 steps per epoch; the ragged-free size keeps one plan. Marks at the end of epochs 1, 2, 3.
    await net.fit(x, y, {
      epochs: 3,
      batchSize: 10,
      onEpochEnd: () => {
        mark();
      },
    });
    net.destroy();
    return marks;
  });
  expect(r).toHaveLength(3);
  for (const i of [1, 2]) {
    expect(r[i].buffers - r[i - 1].buffers, `buffers created during epoch ${i + 1} (100 steps)`).toBe(0);
    expect(r[i].bindGroups - r[i - 1].bindGroups, `bind groups created during epoch ${i + 1}`).toBe(0);
    expect(r[i].maps - r[i - 1].maps, `mapAsync calls during epoch ${i + 1}`).toBe(1);
  }
});

test('toJSON → fromJSON across backends: same predictions, training continues identically', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const { WB, T } = window;
    const { x, y } = T.dataset(64, 8, 3, 9);
    const spec = {
      inputSize: 8,
      layers: [
        { units: 16, activation: 'relu' as const },
        { units: 3, activation: 'linear' as const },
      ],
      optimizer: { type: 'adam' as const, learningRate: 0.01 },
      seed: 2,
    };
    const gpu = new WB.Network(await T.gpuBackend(), spec);
    await gpu.fit(x, y, { epochs: 3, batchSize: 16 });
    const saved = JSON.parse(JSON.stringify(gpu));
    const cpu = WB.Network.fromJSON(await WB.createBackend('cpu'), saved);
    const predict = [T.allclose(await cpu.predict(x), await gpu.predict(x), { rtol: 1e-6, atol: 1e-7 })];
    // The same five more steps on both: Adam's moments and step count must have travelled too.
    const lossesGpu: number[] = [];
    const lossesCpu: number[] = [];
    for (let s = 0; s < 5; s++) {
      const bx = x.subarray(s * 8 * 8, (s + 1) * 8 * 8);
      const by = y.subarray(s * 8 * 3, (s + 1) * 8 * 3);
      lossesGpu.push(await gpu.trainStep(bx, by));
      lossesCpu.push(await cpu.trainStep(bx, by));
    }
    const wg = (await gpu.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
    const wc = (await cpu.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
    // And back: CPU → JSON → GPU.
    const back = WB.Network.fromJSON(await T.gpuBackend(), JSON.parse(JSON.stringify(cpu)));
    predict.push(T.allclose(await back.predict(x), await cpu.predict(x), { rtol: 1e-6, atol: 1e-7 }));
    let toJsonAfterStep = '';
    try {
      gpu.toJSON();
    } catch (e) {
      toJsonAfterStep = (e as Error).message;
    }
    await gpu.sync();
    const synced = (gpu.toJSON() as { format: string }).format;
    gpu.destroy();
    cpu.destroy();
    back.destroy();
    return {
      predict,
      losses: T.allclose(lossesGpu, lossesCpu, { rtol: 1e-5, atol: 0 }),
      weights: T.allclose(wg, wc, { rtol: 1e-4, atol: 1e-6 }),
      toJsonAfterStep,
      synced,
    };
  });
  expect(r.predict).toEqual([null, null]);
  expect(r.losses).toBeNull();
  expect(r.weights).toBeNull();
  expect(r.toJsonAfterStep).toMatch(/await network.sync\(\) first/);
  expect(r.synced).toBe('webgpu-backprop/network');
});

test('destroy() frees every buffer the network made', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const { WB, T } = window;
    const backend = await T.gpuBackend();
    const { x, y } = T.dataset(50, 8, 2, 4);
    const before = T.liveBuffers();
    const labelsBefore = T.liveLabels();
    const created = T.counters.buffersCreated;
    const net = new WB.Network(backend, {
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
    const alive = T.liveBuffers() - before;
    net.destroy();
    net.destroy();
    let after = '';
    try {
      await net.predict(x);
    } catch (e) {
      after = `${(e as Error).name}: ${(e as Error).message}`;
    }
    const left = T.liveLabels().filter((l) => !labelsBefore.includes(l));
    return { made: T.counters.buffersCreated - created, alive, left, after };
  });
  expect(r.made).toBeGreaterThan(20);
  expect(r.alive).toBeGreaterThan(10);
  expect(r.left).toEqual([]);
  expect(r.after).toBe('DisposedError: predict: this network was destroyed');
});

test('bad input on WebGPU throws before any GPU work and leaves the weights unchanged', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const { WB, T } = window;
    const net = new WB.Network(await T.gpuBackend(), {
      inputSize: 4,
      layers: [
        { units: 5, activation: 'relu' },
        { units: 2, activation: 'linear' },
      ],
      seed: 3,
    });
    const { x, y } = T.dataset(6, 4, 2, 8);
    const flat = async () => (await net.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
    const before = await flat();
    const nan = x.slice();
    nan[3] = NaN;
    const attempts: [string, () => unknown][] = [
      ['length', () => net.trainStep(x.subarray(0, 5), y)],
      ['rows', () => net.fit(x, y.subarray(0, 4), { epochs: 1, batchSize: 2 })],
      ['nan', () => net.trainStep(nan, y)],
      ['batch0', () => net.fit(x, y, { epochs: 1, batchSize: 0 })],
      ['batchBig', () => net.fit(x, y, { epochs: 1, batchSize: 7 })],
      ['lr', () => net.setLearningRate(-1)],
    ];
    const errors: string[] = [];
    for (const [, f] of attempts) {
      try {
        await f();
        errors.push('no error');
      } catch (e) {
        errors.push((e as Error).name);
      }
    }
    const after = await flat();
    net.destroy();
    return { errors, same: T.allclose(after, before, { rtol: 0, atol: 0 }) };
  });
  expect(r.errors).toEqual(Array(6).fill('InvalidArgumentError'));
  expect(r.same).toBeNull();
});
