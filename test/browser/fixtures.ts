// The Playwright fixture every GPU spec uses: a page on the test harness with a working WebGPU adapter.
// No adapter is a test failure with the reason, never a silent skip; WEBGPU_TESTS=skip is the explicit
// opt-out for machines without a WebGPU-capable Chromium.
import { test as base, expect, type Page } from '@playwright/test';
import type { Tolerance } from '../allclose';

export { expect };

/** The backends the parity specs run against the CPU reference (with test.use({ on })). */
export const BACKENDS = ['webgpu', 'wasm'] as const;

/**
 * One harness page per worker, shared by its tests: a page's WebGPU device compiles every pipeline it
 * uses again (seconds each for the big ones on SwiftShader), and most tests use the same ones. Each
 * test still starts clean where it matters: localStorage cleared, GPU and page errors counted from its
 * own start, and a page that closed, crashed or navigated away is opened again.
 */
export const test = base.extend<
  { gpuPage: Page; on: 'webgpu' | 'wasm' },
  { harness: { page?: Page; baseURL?: string } }
>({
  // The backend the parity helpers (T.both, T.networkParity) test against the CPU reference. 'wasm' needs
  // no WebGPU adapter: those tests run, and must pass, with WEBGPU_TESTS=skip too.
  on: ['webgpu', { option: true }],

  harness: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern.
    async ({}, use, workerInfo) => {
      const holder: { page?: Page; baseURL?: string } = { baseURL: workerInfo.project.use.baseURL };
      await use(holder);
      if (holder.page && !holder.page.isClosed()) await holder.page.context().close();
    },
    { scope: 'worker' },
  ],

  gpuPage: async ({ harness, browser, on }, use, testInfo) => {
    let page = harness.page;
    const ready = async (p: Page) => {
      try {
        return (
          !p.isClosed() &&
          p.url().endsWith('/test/browser/harness.html') &&
          (await p.evaluate(() => document.title === 'harness ready'))
        );
      } catch {
        return false;
      }
    };
    if (!page || !(await ready(page))) {
      if (page && !page.isClosed()) await page.context().close();
      page = await (await browser.newContext({ baseURL: harness.baseURL })).newPage();
      harness.page = page;
      await page.goto('/test/browser/harness.html');
      await page.waitForFunction(() => document.title === 'harness ready');
    }
    await page.evaluate(() => localStorage.clear());
    const pageErrors: string[] = [];
    const onPageError = (e: Error) => pageErrors.push(e.message);
    page.on('pageerror', onPageError);
    const reason = await page.evaluate(async (on) => {
      window.T.underTest.on = on;
      try {
        if (on === 'wasm') await window.T.wasmBackend();
        else await window.T.gpuBackend();
        return null;
      } catch (e) {
        return on === 'wasm' ? `the wasm backend failed to start: ${(e as Error).message}` : (e as Error).message;
      }
    }, on);
    if (reason !== null && on === 'wasm') throw new Error(reason);
    if (reason !== null) {
      if (process.env.WEBGPU_TESTS === 'skip') testInfo.skip(true, `WEBGPU_TESTS=skip and no WebGPU: ${reason}`);
      throw new Error(
        `No WebGPU adapter in headless Chromium: ${reason}\n` +
          'GPU tests need Chromium with --enable-unsafe-webgpu (see README); set WEBGPU_TESTS=skip to skip them.',
      );
    }
    try {
      await use(page);
      if (!page.isClosed()) {
        const gpuErrors = await page.evaluate(() => window.T.gpuErrors.splice(0));
        expect(gpuErrors, 'GPU errors reported during the test').toEqual([]);
      }
      expect(pageErrors, 'uncaught page errors').toEqual([]);
    } finally {
      page.off('pageerror', onPageError);
      // A failed test may leave the page in any state: the next one starts from a fresh page.
      if (testInfo.status !== testInfo.expectedStatus && !page.isClosed()) {
        await page.context().close();
        harness.page = undefined;
      }
    }
  },
});

export interface InputSpec {
  rows: number;
  cols: number;
  seed: number;
  lo?: number;
  hi?: number;
}

/**
 * Runs a Backend op on the GPU and on the CPU with the same seeded inputs and expects the results to
 * agree within `tol` (compared in the page); `size` is the expected number of output elements.
 */
export async function expectGpuMatchesCpu(
  page: Page,
  what: string,
  op: string,
  inputs: InputSpec[],
  extra: Record<string, unknown>,
  tol: Tolerance,
  size: number,
): Promise<void> {
  const r = await page.evaluate(({ op, inputs, extra, tol }) => window.T.both(op, inputs, extra, tol), {
    op,
    inputs,
    extra,
    tol,
  });
  expect(r.n, `${what}: output size`).toBe(size);
  expect(r.problem, `${what}: ${r.problem ?? ''}`).toBeNull();
}
