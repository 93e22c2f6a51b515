// The wasm backend in Chromium (relaxed SIMD, Web Workers on one shared memory), beyond the op and network
// parity that elementwise/matmul/network.spec.ts run on it: 1 thread against 2 bit for bit, no allocation
// per step, memory reused over 200 rounds, 4 GiB refused up front, micro-batched and streamed fits (the
// same checks as test/unit/wasm_backend.test.ts in Node), and createBackend('auto') choosing by measurement.
import { expect, test } from './fixtures';

test.describe('wasm backend', () => {
  test.use({ on: 'wasm' });

  test('runs a worker thread per core with relaxed SIMD in a cross-origin-isolated page', async ({ gpuPage }) => {
    const r = await gpuPage.evaluate(async () => {
      const b = await window.T.wasmBackend();
      return { isolated: crossOriginIsolated, threads: b.threads, reason: b.threadsReason, relaxed: b.relaxedSimd };
    });
    const cores = await gpuPage.evaluate(() => navigator.hardwareConcurrency);
    expect(r).toEqual({
      isolated: true,
      threads: cores,
      reason: `${cores} threads: navigator.hardwareConcurrency is ${cores}`,
      relaxed: true,
    });
  });

  test('1 thread and 2 threads give the same bits: fits, micro-batches, trainSteps, every optimizer', async ({
    gpuPage,
  }) => {
    const r = await gpuPage.evaluate(() => window.T.wasmChecks.threadsAgree(window.WB, 2));
    expect(r.difference).toBeNull();
    expect(r.runs).toBe(16);
  });

  test('a fit step and a trainStep allocate nothing', async ({ gpuPage }) => {
    const marks = await gpuPage.evaluate(async () =>
      window.T.wasmChecks.stepAllocations(window.WB, await window.T.wasmBackend()),
    );
    expect(Object.keys(marks)).toEqual(['resident', 'streamed', 'micro-batched', 'trainStep']);
    for (const [name, m] of Object.entries(marks)) {
      for (let i = 1; i < m.length; i++) {
        expect(m[i].allocations - m[i - 1].allocations, `${name}: allocations in mark ${i}`).toBe(0);
        expect(m[i].bytesInUse, `${name}: bytes in use in mark ${i}`).toBe(m[i - 1].bytesInUse);
      }
    }
  });

  test('200 rounds of create, fit, destroy reuse the memory; destroy frees everything', async ({ gpuPage }) => {
    const r = await gpuPage.evaluate(async () =>
      window.T.wasmChecks.leakRounds(window.WB, await window.T.wasmBackend(), 200),
    );
    expect(r.bytesAfter).toBe(r.bytesBefore);
    expect(r.memoryAtEnd).toBe(r.memoryAfterWarmUp);
    expect(r.seen).toEqual(['resident/16', 'resident/5', 'streamed/16']);
  });

  test('a network over 4 GiB of wasm memory is refused before anything is allocated', async ({ gpuPage }) => {
    const r = await gpuPage.evaluate(async () =>
      window.T.wasmChecks.overFourGiB(window.WB, await window.T.wasmBackend()),
    );
    expect(r.error).toMatch(
      /^HostMemoryError: Network: needs 6400320000 bytes \(6103\.8 MiB\) of wasm memory for its parameters, gradients and optimizer state, with [\d.]+ MiB left under the wasm backend's wasm32 memory limit/,
    );
    expect(r.after).toEqual(r.before);
    expect(r.loss).toBeGreaterThan(0);
  });

  test('micro-batched and streamed fits end where the whole-batch resident fit does', async ({ gpuPage }) => {
    const r = await gpuPage.evaluate(() => window.T.wasmChecks.planParity(window.WB));
    expect(r.whole).toMatchObject({ mode: 'resident', microBatchSize: 64 });
    expect(r.results.streamed).toMatchObject({ mode: 'streamed', micro: 64, weightDiff: 0, lossDiff: 0 });
    for (const [name, micro] of [
      ['micro', 10],
      ['microEven', 32],
    ] as const) {
      expect(r.results[name]).toMatchObject({ mode: 'resident', micro });
      expect(r.results[name].weightDiff, name).toBeLessThan(1e-4);
    }
    expect(r.results.budget.micro).toBeLessThan(64);
    expect(r.results.budget.weightDiff).toBeLessThan(1e-4);
  });
});

test.describe("createBackend('auto')", () => {
  test('it measures both, picks the faster (wasm on SwiftShader), says why, and caches the timings', async ({
    gpuPage,
  }) => {
    const r = await gpuPage.evaluate(async () => {
      const { WB } = window;
      // A corrupt entry (the Node tests cover the other kinds) is ignored: the first call measures.
      localStorage.setItem('webgpu-backprop.auto.v1', '{not json');
      const first = await WB.createBackend('auto');
      const out = {
        kind: first.kind,
        choice: first.choice,
        fallbackReason: first.fallbackReason,
        cached: localStorage.getItem('webgpu-backprop.auto.v1'),
        second: '',
      };
      first.destroy();
      const second = await WB.createBackend('auto');
      out.second = `${second.kind} ${second.choice}`;
      second.destroy();
      return out;
    });
    const cached = JSON.parse(r.cached ?? 'null');
    expect(cached.identity).toMatch(/ \| .*Chrome.* \| wasm \d+ thread\(s\), relaxed SIMD$/i);
    // The faster one wins; on a software adapter that must be wasm (the issue's requirement here).
    const winner = cached.timings.wasm < cached.timings.webgpu ? 'wasm' : 'webgpu';
    if (/swiftshader/i.test(cached.identity)) expect(winner).toBe('wasm');
    expect(r.kind).toBe(winner);
    expect(r.choice).toMatch(
      new RegExp(
        `^${winner}: one training step of a 512→512→512→10 network at batch 128 took [\\d.]+ ms on wasm ` +
          '\\(\\d+ threads?\\) and [\\d.]+ ms on WebGPU \\(.+\\), measured now$',
      ),
    );
    if (winner === 'wasm') expect(r.fallbackReason).toMatch(/^wasm is faster here: /);
    expect(r.second).toMatch(new RegExp(`^${winner} .*measured before on this adapter and browser \\(cached\\)$`));
  });

  test('the decision follows the measurement (injected timings, which are not cached)', async ({ gpuPage }) => {
    const r = await gpuPage.evaluate(async () => {
      const { WB } = window;
      const open = async (timings: { webgpu: number; wasm: number }) => {
        const b = await WB.createBackend('auto', { auto: { timings } });
        const said = `${b.kind} | ${b.choice}`;
        b.destroy();
        return said;
      };
      const gpuFaster = await open({ webgpu: 2, wasm: 9 });
      const wasmFaster = await open({ webgpu: 9, wasm: 2 });
      return { gpuFaster, wasmFaster, cached: localStorage.getItem('webgpu-backprop.auto.v1') };
    });
    expect(r.gpuFaster).toMatch(
      /^webgpu \| webgpu: .* took 9\.00 ms on wasm .* and 2\.00 ms on WebGPU .*, as given in options\.auto\.timings$/,
    );
    expect(r.wasmFaster).toMatch(/^wasm \| wasm: .* took 2\.00 ms on wasm .* and 9\.00 ms on WebGPU .*, as given/);
    expect(r.cached).toBeNull();
  });
});
