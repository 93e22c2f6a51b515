// Untrusted saved networks and oversized specs on WebGPU: refused with the library's error before anything
// is allocated. (The CPU side of the same checks is in test/unit/saved_files.test.ts.)
import { expect, test } from './fixtures';

test('mutated saved files load into the same network or are rejected, leaving no buffer', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(() => window.T.fuzzFilesOnGpu(150, 7));
  expect(r.failure).toBeNull();
  expect(r.loaded).toBeGreaterThan(5);
  expect(r.rejected).toBeGreaterThan(100);
});

test('a 10⁹-unit layer is refused for its size, in new Network and in fromJSON, with nothing allocated', async ({
  gpuPage,
}) => {
  const r = await gpuPage.evaluate(() => window.T.hugeLayerOnGpu());
  expect(r.errors[0]).toMatch(/^HostMemoryError: Network: a 4→1000000000 network has [\d.]+ GiB of weights/);
  expect(r.errors[1]).toMatch(/^HostMemoryError: Network\.fromJSON: a 4→1000000000 network/);
  expect(r.errors[2]).toMatch(/^GpuMemoryError: Network\.fromJSON: needs [\d.]+ MiB of GPU memory .* memoryBudget/);
  // The two networks made nothing; the third attempt opens (and closes) a backend of its own.
  expect(r.byNetworks).toBe(0);
  expect(r.made).toBeLessThanOrEqual(3);
});
