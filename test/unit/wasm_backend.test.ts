// createBackend('wasm') in Node 20 (worker_threads, the plain-SIMD build): a network trains to the CPU
// reference's numbers, 1 and 2 threads agree bit for bit, a step allocates nothing, memory is reused over
// 200 rounds, 4 GiB is refused up front, micro-batched and streamed fits match the whole-batch one.
// The same checks run in Chromium in test/browser/wasm.spec.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allclose } from '../allclose';
import { classes } from '../browser/helpers/data';
import * as WB from '../../src/index';
import {
  leakRounds,
  OPTIMIZERS,
  overFourGiB,
  planParity,
  specs,
  stepAllocations,
  threadsAgree,
} from '../shared/wasm_backend';

let wasm: WB.WasmBackend;
beforeAll(async () => {
  wasm = await WB.createBackend('wasm', { threads: 2 });
});
afterAll(() => wasm.destroy());

// Worker threads share the cores with the other test files: generous timeouts, these are not timing tests.
describe('the wasm backend in Node', { timeout: 30_000 }, () => {
  it('runs on 2 worker threads and says how it was set up', () => {
    expect(wasm.kind).toBe('wasm');
    expect(wasm.threads).toBe(2);
    expect(wasm.threadsReason).toMatch(/2 threads/);
    // Relaxed SIMD shipped in V8 11.4; Node 20's V8 is 11.3, so there the plain-SIMD build loads.
    const [major, minor] = process.versions.v8.split('.').map(Number);
    expect(wasm.relaxedSimd).toBe(major > 11 || (major === 11 && minor >= 4));
  });

  it('trains like the CPU reference: every optimizer, cross-entropy and MSE, fit and trainStep', async () => {
    const cpu = await WB.createBackend('cpu');
    const { x, y } = classes(77, 13, 5, 1);
    for (const optimizer of OPTIMIZERS) {
      for (const spec of specs(optimizer)) {
        const run = async (backend: WB.Backend) => {
          const net = new WB.Network(backend, spec);
          const h = await net.fit(x, y, { epochs: 3, batchSize: 16, seed: 2 });
          const steps: number[] = [];
          for (let i = 0; i < 5; i++) steps.push(await net.trainStep(x.subarray(0, 20 * 13), y.subarray(0, 20 * 5)));
          const w = (await net.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
          const metrics = await net.evaluate(x, y, { metrics: true });
          net.destroy();
          return { losses: [...h.loss, ...steps], w, metrics };
        };
        const [a, b] = [await run(wasm), await run(cpu)];
        const what = `${spec.loss ?? 'mse'} ${JSON.stringify(optimizer)}`;
        // The GPU tests' tolerances (test/browser/network.spec.ts).
        expect(allclose(a.losses, b.losses, { rtol: 1e-4, atol: 0 }), what).toBeNull();
        expect(allclose(a.w, b.w, { rtol: 1e-3, atol: 1e-6 }), what).toBeNull();
        expect(a.metrics.accuracy, what).toBe(b.metrics.accuracy);
      }
    }
  });

  it('1 thread and 2 threads give the same bits', async () => {
    const r = await threadsAgree(WB, 2);
    expect(r.difference).toBeNull();
    expect(r.runs).toBe(16);
  });

  it('a fit step and a trainStep allocate nothing', async () => {
    const marks = await stepAllocations(WB, wasm);
    for (const [name, m] of Object.entries(marks)) {
      for (let i = 1; i < m.length; i++) {
        expect(m[i].allocations - m[i - 1].allocations, `${name}: allocations in mark ${i}`).toBe(0);
        expect(m[i].bytesInUse, `${name}: bytes in use in mark ${i}`).toBe(m[i - 1].bytesInUse);
      }
    }
  });

  it('200 rounds of create, fit, destroy reuse the memory', async () => {
    const r = await leakRounds(WB, wasm, 200);
    expect(r.bytesAfter).toBe(r.bytesBefore);
    expect(r.memoryAtEnd).toBe(r.memoryAfterWarmUp);
    expect(r.seen).toEqual(['resident/16', 'resident/5', 'streamed/16']);
  });

  it('a network over 4 GiB of wasm memory is refused before anything is allocated', async () => {
    const r = await overFourGiB(WB, wasm);
    expect(r.error).toMatch(
      /^HostMemoryError: Network: needs 6400320000 bytes \(6103\.8 MiB\) of wasm memory for its parameters, gradients and optimizer state, with [\d.]+ MiB left under the wasm backend's wasm32 memory limit/,
    );
    expect(r.after).toEqual(r.before);
    expect(r.loss).toBeGreaterThan(0);
  });

  it('a fit after a bigger trainStep trades the big workspace for its own, as its plan counted', async () => {
    const net = new WB.Network(wasm, {
      inputSize: 13,
      layers: [
        { units: 64, activation: 'relu' },
        { units: 5, activation: 'softmax' },
      ],
      loss: 'crossEntropy',
      optimizer: { type: 'adam', learningRate: 0.01 },
    });
    const { x, y } = classes(2048, 13, 5, 6);
    try {
      await net.trainStep(x, y);
      let inUse = 0;
      const { plan } = await net.fit(x, y, {
        epochs: 1,
        batchSize: 32,
        onEpochEnd: () => {
          inUse = wasm.memory.bytesInUse;
        },
      });
      // Beyond the plan's total: losses, hyper blocks, program code — kilobytes. A kept 2048-row
      // workspace would add 1.4 MiB.
      expect(inUse - plan.bytes.total).toBeLessThan(64 * 1024);
    } finally {
      net.destroy();
    }
  });

  it('micro-batched and streamed fits end where the whole-batch resident fit does', async () => {
    const r = await planParity(WB);
    expect(r.whole).toMatchObject({ mode: 'resident', microBatchSize: 64 });
    expect(r.results.streamed).toMatchObject({ mode: 'streamed', micro: 64, weightDiff: 0, lossDiff: 0 });
    expect(r.results.micro).toMatchObject({ mode: 'resident', micro: 10 });
    // Micro-batches sum the gradients in another order: f32 rounding only.
    expect(r.results.micro.weightDiff).toBeLessThan(1e-4);
    expect(r.results.microEven).toMatchObject({ mode: 'resident', micro: 32 });
    expect(r.results.microEven.weightDiff).toBeLessThan(1e-4);
    expect(r.results.budget.micro).toBeLessThan(64);
    expect(r.results.budget.weightDiff).toBeLessThan(1e-4);
  });
});
