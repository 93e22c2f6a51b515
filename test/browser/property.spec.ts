// fast-check properties (test/browser/property.ts) run in the page against the shared WebGPU backend.
import { test, expect } from './fixtures';

for (const which of ['backendProperty', 'networkProperty'] as const) {
  test(`${which}: correct answer or a documented error, never a GPU error`, async ({ gpuPage }) => {
    const r = await gpuPage.evaluate(async (which) => {
      return window.T.properties[which](await window.T.gpuBackend(), window.T.gpuErrors, 60, 20261129);
    }, which);
    // Both paths must have been exercised: right answers and documented refusals.
    expect(r.succeeded, JSON.stringify(r)).toBeGreaterThan(10);
    expect(r.threw, JSON.stringify(r)).toBeGreaterThan(10);
  });
}
