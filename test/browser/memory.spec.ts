// Larger than the GPU allows at once: training sets sharded over several buffers or streamed from host
// memory, batches split into micro-batches, inference in chunks — each forced through the public limits
// and compared with the same run without them.
import { expect, test } from './fixtures';

const relu = 'relu' as const;
const sigmoid = 'sigmoid' as const;
const KiB = 1024;
const MiB = 1024 * KiB;

// 600 rows of 1000 inputs: 2.4 MB of x, over a 1 MiB binding and a 2.5 MiB budget.
const WIDE = {
  spec: {
    inputSize: 1000,
    layers: [
      { units: 32, activation: relu },
      { units: 4, activation: sigmoid },
    ],
    optimizer: { type: 'adam' as const, learningRate: 0.01 },
    seed: 11,
  },
  samples: 600,
  epochs: 3,
  batchSize: 64,
};

test('a training set over one binding is sharded and trains bit for bit as in one buffer', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate((run) => window.T.fitUnderLimits(run), {
    ...WIDE,
    limits: { maxStorageBufferBindingSize: MiB },
  });
  expect(r.reference.mode).toBe('resident');
  expect(r.plan.mode).toBe('sharded');
  expect(r.plan.shards).toBe(3);
  expect(r.planned).toEqual(r.plan);
  expect(r.losses).toBeNull();
  expect(r.weights).toBeNull();
  expect(r.predict, 'predict in chunks under the binding limit').toBeNull();
  expect(r.evaluate[0]).toBe(r.evaluate[1]);
});

test('a training set over the budget is streamed: same batches, same numbers, nothing allocated per step', async ({
  gpuPage,
}) => {
  const r = await gpuPage.evaluate((run) => window.T.fitUnderLimits(run), {
    ...WIDE,
    limits: { memoryBudget: 2.5 * MiB },
  });
  expect(r.plan.mode).toBe('streamed');
  expect(r.plan.microBatchSize).toBe(64);
  expect(r.plan.bytes.total).toBeLessThanOrEqual(2.5 * MiB);
  expect(r.losses).toBeNull();
  expect(r.weights).toBeNull();
  for (const i of [1, 2]) {
    expect(r.marks[i].made - r.marks[i - 1].made, `buffers made in epoch ${i + 1}`).toBe(0);
    expect(r.marks[i].bindGroups - r.marks[i - 1].bindGroups, `bind groups made in epoch ${i + 1}`).toBe(0);
    // One map per step (the upload ring) and the epoch's readback.
    expect(r.marks[i].maps - r.marks[i - 1].maps).toBe(Math.ceil(600 / 64) + 1);
  }
});

test('stream: true streams a set that would fit, with the same numbers', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate((run) => window.T.fitUnderLimits(run), {
    ...WIDE,
    limits: {},
    fitOptions: { stream: true },
  });
  expect(r.plan.mode).toBe('streamed');
  expect(r.losses).toBeNull();
  expect(r.weights).toBeNull();
});

// Batch 128 × 2048 units: a layer's activations are 1 MiB, over a 256 KiB binding.
const TALL = {
  spec: {
    inputSize: 16,
    layers: [
      { units: 2048, activation: relu },
      { units: 4, activation: sigmoid },
    ],
    seed: 5,
  },
  samples: 256,
  epochs: 2,
  batchSize: 128,
  weightTol: { rtol: 1e-4, atol: 1e-6 },
};

test('a batch over one binding runs as micro-batches; SGD ends within 1e-4 of the whole batch', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate((run) => window.T.fitUnderLimits(run), {
    ...TALL,
    spec: { ...TALL.spec, optimizer: { type: 'sgd' as const, learningRate: 0.05 } },
    limits: { maxStorageBufferBindingSize: 256 * KiB },
  });
  expect(r.reference.microBatchSize).toBe(128);
  expect(r.plan.microBatchSize).toBe(32);
  expect(r.plan.reason).toMatch(/micro-batches of 32 rows/);
  expect(r.losses).toBeNull();
  expect(r.weights).toBeNull();
});

test('microBatchSize asks for gradient accumulation; Adam ends within 1e-4 of the whole batch', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate((run) => window.T.fitUnderLimits(run), {
    ...TALL,
    spec: { ...TALL.spec, optimizer: { type: 'adam' as const, learningRate: 0.001 } },
    limits: {},
    fitOptions: { microBatchSize: 48 },
  });
  expect(r.plan.microBatchSize).toBe(48);
  expect(r.plan.reason).toMatch(/as asked/);
  expect(r.losses).toBeNull();
  expect(r.weights).toBeNull();
});

test("micro-batches of a softmax classifier: the cross-entropy and its gradient are the whole batch's", async ({
  gpuPage,
}) => {
  const r = await gpuPage.evaluate((run) => window.T.fitUnderLimits(run), {
    ...TALL,
    spec: {
      ...TALL.spec,
      layers: [TALL.spec.layers[0], { units: 4, activation: 'softmax' as const }],
      loss: 'crossEntropy' as const,
      optimizer: { type: 'sgd' as const, learningRate: 0.05, weightDecay: 0.01 },
    },
    limits: {},
    fitOptions: { microBatchSize: 40 },
  });
  expect(r.plan.microBatchSize).toBe(40);
  expect(r.losses).toBeNull();
  expect(r.weights).toBeNull();
});
