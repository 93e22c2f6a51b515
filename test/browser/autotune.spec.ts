// The matmul autotuner on a real device: a network's first steps run the defaults while the tuner times
// in the background, later steps run re-recorded plans with the tuned variants (and still match the
// CPU); the GPU timer on both clocks; the cache across page loads. Its decisions with made-up adapters
// and timings, and the cache's rules for bad entries, are unit tests (test/unit/autotune.test.ts).
import { test, expect } from './fixtures';

const KEY = 'webgpu-backprop.matmul-autotune.v2';

test('background tuning: the first step runs the defaults, later ones the tuned variant, matching the CPU', async ({
  gpuPage,
}) => {
  const r = await gpuPage.evaluate(() => window.T.backgroundTuning('r16x16'));
  // 64 → 64 → 16 at batch 64: the 64×64 products (layer 0's forward and SGD step, layer 1's dZ) have
  // several candidates worth timing; the 64×16 ones only r4x4, which is their default anyway.
  expect(r.timed).toContain('r16x16');
  expect(r.stats.tuned).toBe(3);
  expect(r.variants[0], 'step 1: the untuned defaults').toEqual(['r4x4']);
  for (const v of r.variants.slice(1))
    expect(v, 'later steps: re-recorded with the tuned variant').toEqual(['r16x16', 'r4x4']);
  expect(r.losses, 'losses against the CPU').toBeNull();
  expect(r.weights, 'weights against the CPU').toBeNull();
  expect(r.leftOver, 'buffers left after destroy (the replaced plans included)').toBe(0);
});

test('the GPU timer: timestamp queries and wall time; a candidate the device refuses rejects quietly', async ({
  gpuPage,
}) => {
  for (const timestamps of [true, false]) {
    const r = await gpuPage.evaluate((ts) => window.T.timeOnGpu('r4x4', { m: 64, k: 48, n: 64 }, ts), timestamps);
    expect(r.ms, `timestamps: ${timestamps}`).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(r.ms)).toBe(true);
    expect(r.refused).not.toBe('');
    expect(r.errors, 'nothing reported to the page').toEqual([]);
    expect(r.bytesLeft, 'the timing frees what it made').toBe(0);
  }
});

/**
 * Trains one step of a 64 → 64 network on a fresh backend with the library's own tuner (its timer on
 * this GPU), waits for the tuning, and reports the tuner's counters.
 */
async function tuneOneLayer(page: import('@playwright/test').Page, autotune = true) {
  return page.evaluate(async (autotune) => {
    const { WB, T } = window;
    const backend = await WB.createBackend('webgpu', { autotune });
    const { x, y } = T.dataset(64, 64, 64, 1);
    const net = new WB.Network(backend, { inputSize: 64, layers: [{ units: 64, activation: 'linear' }], seed: 1 });
    const loss = await net.evaluate(x, y);
    await (backend as unknown as { tuningIdle(): Promise<void> }).tuningIdle();
    const stats = backend.tuning;
    backend.destroy();
    return { ...stats, loss };
  }, autotune);
}

test('tunes on first use, then the next page load reuses the cache', async ({ gpuPage }) => {
  const first = await tuneOneLayer(gpuPage);
  expect(first.tuned).toBe(1); // the forward product: the only matmul of evaluate()
  expect(first.fromCache).toBe(0);
  const saved = await gpuPage.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? 'null'), KEY);
  expect(Object.keys(saved.choices)).toEqual(['nn:64x64x64:forward']);
  await gpuPage.reload();
  await gpuPage.waitForFunction(() => document.title === 'harness ready');
  const second = await tuneOneLayer(gpuPage);
  expect(second.tuned).toBe(0);
  expect(second.fromCache).toBe(1);
  expect(second.loss).toBeCloseTo(first.loss, 6);
});

test('autotune: false never times candidates nor touches the cache', async ({ gpuPage }) => {
  const r = await tuneOneLayer(gpuPage, false);
  expect(r.tuned).toBe(0);
  expect(await gpuPage.evaluate((key) => localStorage.getItem(key), KEY)).toBeNull();
});
