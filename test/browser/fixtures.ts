// The Playwright fixture every GPU spec uses: a page on the test harness with a working WebGPU adapter.
// No adapter is a test failure with the reason, never a silent skip; WEBGPU_TESTS=skip is the explicit
// opt-out for machines without a WebGPU-capable Chromium.
import { test as base, expect, type Page } from '@playwright/test';
import type { Tolerance } from '../allclose';

export { expect };

export const test = base.extend<{ gpuPage: Page }>({
  gpuPage: async ({ page }, use, testInfo) => {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto('/test/browser/harness.html');
    await page.waitForFunction(() => document.title === 'harness ready');
    const reason = await page.evaluate(async () => {
      try {
        await window.T.gpuBackend();
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    });
    if (reason !== null) {
      if (process.env.WEBGPU_TESTS === 'skip') testInfo.skip(true, `WEBGPU_TESTS=skip and no WebGPU: ${reason}`);
      throw new Error(
        `No WebGPU adapter in headless Chromium: ${reason}\n` +
          'GPU tests need Chromium with --enable-unsafe-webgpu (see README); set WEBGPU_TESTS=skip to skip them.',
      );
    }
    await use(page);
    const gpuErrors = await page.evaluate(() => window.T.gpuErrors.splice(0));
    expect(gpuErrors, 'GPU errors reported during the test').toEqual([]);
    expect(pageErrors, 'uncaught page errors').toEqual([]);
  },
});

export interface InputSpec { rows: number; cols: number; seed: number; lo?: number; hi?: number }

/**
 * Runs a Backend op on the GPU and on the CPU with the same seeded inputs and expects the results to
 * agree within `tol` (compared in the page); `size` is the expected number of output elements.
 */
export async function expectGpuMatchesCpu(
  page: Page, what: string, op: string, inputs: InputSpec[], extra: Record<string, unknown>, tol: Tolerance, size: number,
): Promise<void> {
  const r = await page.evaluate(({ op, inputs, extra, tol }) => window.T.both(op, inputs, extra, tol), { op, inputs, extra, tol });
  expect(r.n, `${what}: output size`).toBe(size);
  expect(r.problem, `${what}: ${r.problem ?? ''}`).toBeNull();
}
