// The matmul autotuner: tunes once per shape class, reuses its localStorage cache on the next page
// load, and ignores cache entries that are corrupt, stale or name unknown variants.
import { test, expect } from './fixtures';

const KEY = 'webgpu-backprop.matmul-autotune.v1';

/**
 * Runs predict() of a one-layer network on a fresh backend (exactly one matmul shape class, since
 * timing candidates means compiling each variant, which is slow on a software adapter) and reports
 * the tuner's counters.
 */
async function trainAndCount(page: import('@playwright/test').Page, autotune = true) {
  return page.evaluate(async (autotune) => {
    const { WB, T } = window;
    const backend = await WB.createBackend('webgpu', { autotune });
    // 32×32 outputs: the smallest shape on which the tuner still times a candidate (r4x4; the others'
    // workgroups would cover more than the output).
    const { x, y } = T.dataset(32, 12, 32, 1);
    const net = new WB.Network(backend, { inputSize: 12, layers: [{ units: 32, activation: 'linear' }], seed: 1 });
    const loss = await net.evaluate(x, y);
    const stats = backend.tuning;
    backend.destroy();
    return { ...stats, loss };
  }, autotune);
}

test('tunes on first use, then the next page load reuses the cache', async ({ gpuPage }) => {
  const first = await trainAndCount(gpuPage);
  expect(first.tuned).toBeGreaterThan(0);
  expect(first.fromCache).toBe(0);
  const saved = await gpuPage.evaluate((key) => JSON.parse(localStorage.getItem(key)!), KEY);
  expect(Object.keys(saved.choices).length).toBe(first.tuned);
  await gpuPage.reload();
  await gpuPage.waitForFunction(() => document.title === 'harness ready');
  const second = await trainAndCount(gpuPage);
  expect(second.tuned).toBe(0);
  expect(second.fromCache).toBe(first.tuned);
  expect(second.loss).toBeCloseTo(first.loss, 6);
});

test('corrupt, stale and unknown cache entries are ignored, not trusted', async ({ gpuPage }) => {
  const cases = [
    '{this is not json',
    JSON.stringify({ identity: 'some other adapter | some other browser', choices: { 'nn:sxsxs': 'r4x4' } }),
  ];
  for (const value of cases) {
    await gpuPage.evaluate(([key, value]) => localStorage.setItem(key, value), [KEY, value]);
    const r = await trainAndCount(gpuPage);
    expect(r.rejected, value).toBe(1);
    expect(r.fromCache).toBe(0);
    expect(r.tuned).toBeGreaterThan(0);
  }
  // Right identity, but a variant name that does not exist: that entry alone is dropped.
  const identity = await gpuPage.evaluate((key) => JSON.parse(localStorage.getItem(key)!).identity, KEY);
  await gpuPage.evaluate(
    ([key, identity]) =>
      localStorage.setItem(key, JSON.stringify({ identity, choices: { 'nn:sxsxs': 'no-such-variant' } })),
    [KEY, identity],
  );
  const r = await trainAndCount(gpuPage);
  expect(r.rejected).toBe(1);
  expect(r.tuned).toBeGreaterThan(0);
});

test('autotune: false never times candidates nor touches the cache', async ({ gpuPage }) => {
  const r = await trainAndCount(gpuPage, false);
  expect(r.tuned).toBe(0);
  expect(await gpuPage.evaluate((key) => localStorage.getItem(key), KEY)).toBeNull();
});
