// Checks of the wasm backend that run the same in Node (test/unit/wasm_backend.test.ts, worker_threads) and
// in the page (test/browser/wasm.spec.ts, Web Workers): 1 thread against N bit for bit, nothing allocated
// per step, memory reused over create/train/destroy rounds, the 4 GiB limit, and micro-batched and
// streamed fits against the whole-batch resident one. Each returns plain data for the caller to assert on.
import type * as Lib from '../../src/index';
import { classes } from '../browser/helpers/data';

type WB = typeof Lib;

/** A classifier (tanh → relu → softmax, cross-entropy) and a regressor (relu → sigmoid, MSE). */
export function specs(optimizer: Lib.OptimizerSpec): Lib.NetworkSpec[] {
  return [
    {
      inputSize: 13,
      layers: [
        { units: 37, activation: 'tanh' },
        { units: 19, activation: 'relu' },
        { units: 5, activation: 'softmax' },
      ],
      loss: 'crossEntropy',
      optimizer,
      seed: 3,
    },
    {
      inputSize: 13,
      layers: [
        { units: 29, activation: 'relu' },
        { units: 5, activation: 'sigmoid' },
      ],
      optimizer,
      seed: 4,
    },
  ];
}

export const OPTIMIZERS: Lib.OptimizerSpec[] = [
  { type: 'sgd', learningRate: 0.1 },
  { type: 'sgd', learningRate: 0.1, weightDecay: 0.01 },
  { type: 'momentum', learningRate: 0.05, momentum: 0.9 },
  { type: 'adam', learningRate: 0.01, weightDecay: 0.02 },
];

/**
 * The same fits (shuffled, a ragged last batch, with and without micro-batches) and trainSteps on a 1-thread
 * and an N-thread wasm backend: the saved networks (weights, biases, optimizer state) and every loss must
 * be identical. Returns the first difference, or null.
 */
export async function threadsAgree(WB: WB, threads: number): Promise<{ difference: string | null; runs: number }> {
  const one = await WB.createBackend('wasm', { threads: 1 });
  const many = await WB.createBackend('wasm', { threads });
  const { x, y } = classes(101, 13, 5, 9);
  let runs = 0;
  try {
    if (many.threads !== threads) return { difference: `asked for ${threads} threads, got ${many.threads}`, runs };
    for (const optimizer of OPTIMIZERS) {
      for (const spec of specs(optimizer)) {
        for (const fit of [{ batchSize: 16 }, { batchSize: 24, microBatchSize: 7 }]) {
          const run = async (backend: Lib.Backend) => {
            const net = new WB.Network(backend, spec);
            try {
              const h = await net.fit(x, y, { epochs: 2, seed: 5, ...fit });
              const steps = [];
              for (let i = 0; i < 3; i++)
                steps.push(await net.trainStep(x.subarray(0, 32 * 13), y.subarray(0, 32 * 5)));
              return JSON.stringify({ loss: h.loss, steps, net });
            } finally {
              net.destroy();
            }
          };
          const [a, b] = [await run(one), await run(many)];
          runs++;
          if (a !== b) {
            let i = 0;
            while (a[i] === b[i]) i++;
            const what = `${spec.layers.map((l) => l.activation).join('→')} ${JSON.stringify(optimizer)} ${JSON.stringify(fit)}`;
            return {
              difference:
                `${what}, run ${runs}: 1 thread …${a.slice(Math.max(0, i - 60), i + 60)}… vs ${threads}: ` +
                `…${b.slice(Math.max(0, i - 60), i + 60)}…`,
              runs,
            };
          }
        }
      }
    }
    return { difference: null, runs };
  } finally {
    one.destroy();
    many.destroy();
  }
}

/**
 * Allocations and bytes in use at each epoch's end of one 3-epoch fit (resident, streamed or micro-batched),
 * and around 20 trainSteps after the first: a step must allocate nothing.
 */
export async function stepAllocations(WB: WB, backend: Lib.WasmBackend) {
  const { x, y } = classes(300, 13, 5, 2);
  const [spec] = specs({ type: 'adam', learningRate: 0.01 });
  const marks: Record<string, { allocations: number; bytesInUse: number }[]> = {};
  const mark = () => ({ allocations: backend.memory.allocations, bytesInUse: backend.memory.bytesInUse });
  for (const [name, fit] of [
    ['resident', {}],
    ['streamed', { stream: true }],
    ['micro-batched', { microBatchSize: 4 }],
  ] as const) {
    const net = new WB.Network(backend, spec);
    marks[name] = [];
    await net.fit(x, y, { epochs: 3, batchSize: 10, ...fit, onEpochEnd: () => void marks[name].push(mark()) });
    net.destroy();
  }
  const net = new WB.Network(backend, spec);
  await net.trainStep(x.subarray(0, 20 * 13), y.subarray(0, 20 * 5));
  const before = mark();
  for (let i = 0; i < 20; i++) await net.trainStep(x.subarray(0, 20 * 13), y.subarray(0, 20 * 5));
  marks.trainStep = [before, mark()];
  net.destroy();
  return marks;
}

/**
 * `rounds` rounds of create, fit one epoch (cycling resident, streamed and micro-batched fits and the three
 * optimizers), destroy: wasm memory in use before and after, and the memory's size after the first few
 * rounds and at the end (it grows, never shrinks, so reuse shows as no growth).
 */
export async function leakRounds(WB: WB, backend: Lib.WasmBackend, rounds: number) {
  const { x, y } = classes(40, 6, 2, 2);
  const optimizers = OPTIMIZERS.slice(1);
  const modes: Partial<Lib.FitOptions>[] = [{}, { stream: true }, { microBatchSize: 5 }];
  const before = backend.memory.bytesInUse;
  let memoryAfterWarmUp = 0;
  const seen = new Set<string>();
  for (let i = 0; i < rounds; i++) {
    const net = new WB.Network(backend, {
      inputSize: 6,
      layers: [
        { units: 8 + (i % 5), activation: 'relu' },
        { units: 2, activation: i % 2 ? 'softmax' : 'sigmoid' },
      ],
      loss: i % 2 ? 'crossEntropy' : 'mse',
      optimizer: optimizers[i % 3],
      seed: i,
    });
    const { plan } = await net.fit(x, y, { epochs: 1, batchSize: 16, ...modes[Math.floor(i / 3) % 3] });
    await net.predict(x);
    seen.add(`${plan.mode}/${plan.microBatchSize}`);
    net.destroy();
    if (i === 9) memoryAfterWarmUp = backend.memory.memoryBytes;
  }
  return {
    bytesBefore: before,
    bytesAfter: backend.memory.bytesInUse,
    memoryAfterWarmUp,
    memoryAtEnd: backend.memory.memoryBytes,
    seen: [...seen].sort(),
  };
}

/**
 * A network whose parameters fit the host (under 2 GiB) but whose Adam training state does not fit wasm32's
 * 4 GiB: the error, and the backend's memory before and after (nothing may be allocated), and that a small
 * network still trains on the same backend afterwards.
 */
export async function overFourGiB(WB: WB, backend: Lib.WasmBackend) {
  const before = backend.memory;
  let error = '';
  try {
    new WB.Network(backend, {
      inputSize: 20000,
      layers: [{ units: 20000, activation: 'relu' }],
      optimizer: { type: 'adam', learningRate: 0.01 },
    });
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`;
  }
  const after = backend.memory;
  const net = new WB.Network(backend, { inputSize: 2, layers: [{ units: 1, activation: 'sigmoid' }] });
  const loss = await net.trainStep(Float32Array.of(1, 0), Float32Array.of(1));
  net.destroy();
  return { error, before, after, loss };
}

/**
 * Micro-batches (asked for, and forced by a small memoryBudget) and streamed data against the same fits with
 * whole resident batches (two fits of one network, on 400 rows then 300): the second fit's plans and losses,
 * and the largest difference of the final weights.
 */
export async function planParity(WB: WB) {
  const { x, y } = classes(400, 13, 5, 4);
  const [spec] = specs({ type: 'adam', learningRate: 0.01 });
  const run = async (options: Lib.BackendOptions, fit: Partial<Lib.FitOptions>) => {
    const backend = await WB.createBackend('wasm', options);
    const net = new WB.Network(backend, spec);
    try {
      await net.fit(x, y, { epochs: 2, batchSize: 64, seed: 3, ...fit });
      // A second fit of the same network on other data: nothing of the first fit's may be reused.
      const h = await net.fit(x.subarray(0, 300 * 13), y.subarray(0, 300 * 5), {
        epochs: 1,
        batchSize: 64,
        seed: 4,
        ...fit,
      });
      const w = (await net.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
      return { plan: h.plan, loss: h.loss, w };
    } finally {
      net.destroy();
      backend.destroy();
    }
  };
  const whole = await run({}, {});
  // Parameters, gradients and Adam's state take 21 KiB, a whole batch of 64 rows 40 KiB: 48 KiB forces micro-batches.
  const cases = {
    streamed: await run({}, { stream: true }),
    micro: await run({}, { microBatchSize: 10 }),
    // Two parts per batch, then a whole ragged last batch of 16 rows whose step must wait for the update
    // of the split batch before it (which ran in the other input slot) to read the optimizer's values.
    microEven: await run({}, { microBatchSize: 32 }),
    budget: await run({ memoryBudget: 48 * 1024 }, {}),
  };
  const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  return {
    whole: whole.plan,
    results: Object.fromEntries(
      Object.entries(cases).map(([k, r]) => [
        k,
        {
          mode: r.plan.mode,
          micro: r.plan.microBatchSize,
          weightDiff: maxDiff(r.w, whole.w),
          lossDiff: maxDiff(r.loss, whole.loss),
        },
      ]),
    ),
  };
}
