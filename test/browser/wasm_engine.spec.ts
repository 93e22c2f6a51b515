// The wasm engine in Chromium, where it runs its relaxed-SIMD build on Web Workers over a shared memory
// (the Vitest suite in Node covers the plain-SIMD build op by op): on the cross-origin-isolated test
// server it must start the threads it is asked for, and every GEMM form must match f64 sums with 1 and
// 2 threads giving the same bits. Uses the checks of bench/wasm-gemm-core.ts through its page.
import { expect, test } from '@playwright/test';

import type { WasmEngine } from '../../src/wasm/engine';

type Page = {
  verify(threads: number): Promise<string[]>;
  WasmEngine: typeof WasmEngine;
  benchReady?: boolean;
};

test('wasm engine: relaxed SIMD on 2 worker threads, GEMM forms match f64 sums, 1 and 2 threads identical', async ({
  page,
}) => {
  await page.goto('/bench/wasm-gemm.html');
  await page.waitForFunction(() => (window as unknown as Page).benchReady === true);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  const engine = await page.evaluate(async () => {
    const e = await (window as unknown as Page).WasmEngine.create({ threads: 2 });
    const info = { threads: e.threads, reason: e.threadsReason, relaxedSimd: e.relaxedSimd };
    e.destroy();
    return info;
  });
  expect(engine).toEqual({ threads: 2, reason: '2 threads: threads: 2 was asked for', relaxedSimd: true });
  expect(await page.evaluate(() => (window as unknown as Page).verify(2))).toEqual([]);
});
