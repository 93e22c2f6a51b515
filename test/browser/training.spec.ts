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
  const r = await gpuPage.evaluate(() => window.T.fitAllocations());
  expect(r).toHaveLength(3);
  for (const i of [1, 2]) {
    expect(r[i].buffers - r[i - 1].buffers, `buffers created during epoch ${i + 1} (100 steps)`).toBe(0);
    expect(r[i].bindGroups - r[i - 1].bindGroups, `bind groups created during epoch ${i + 1}`).toBe(0);
    expect(r[i].maps - r[i - 1].maps, `mapAsync calls during epoch ${i + 1}`).toBe(1);
  }
});

test('toJSON → fromJSON across backends: same predictions, training continues identically', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(() => window.T.saveLoadAcrossBackends());
  expect(r.predict).toEqual([null, null]);
  expect(r.losses).toBeNull();
  expect(r.weights).toBeNull();
  expect(r.toJsonAfterStep).toMatch(/await network.sync\(\) first/);
  expect(r.synced).toBe('webgpu-backprop/network');
});

test('destroy() frees every buffer the network made', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(() => window.T.destroyFreesEverything());
  expect(r.made).toBeGreaterThan(20);
  expect(r.alive).toBeGreaterThan(10);
  expect(r.left).toEqual([]);
  expect(r.after).toBe('DisposedError: predict: this network was destroyed');
});

test('bad input on WebGPU throws before any GPU work and leaves the weights unchanged', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(() => window.T.badInputLeavesWeights());
  expect(r.errors).toEqual(Array(6).fill('InvalidArgumentError'));
  expect(r.same).toBeNull();
});
