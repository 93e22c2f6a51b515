// A Playwright test: the page trains the model on WebGPU and on the CPU backend; the numbers must agree.
import { expect, test } from '@playwright/test';

test.skip(process.env.WEBGPU_TESTS === 'skip', 'WEBGPU_TESTS=skip');

test('the model trains on WebGPU like on the CPU', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('#status')).toHaveText('ready');
  const { gpu, cpu } = await page.evaluate(() => window.trainBoth());
  expect(gpu.losses[19]).toBeLessThan(gpu.losses[0]);
  expect(gpu.accuracy).toBeGreaterThan(0.9);
  // As in tests/model.test.ts: 1e-4 relative, plus 1e-6 absolute for the losses near 1e-4.
  gpu.losses.forEach((loss, i) => {
    expect(Math.abs(loss - cpu.losses[i])).toBeLessThanOrEqual(1e-6 + 1e-4 * cpu.losses[i]);
  });
  await expect(page.locator('#status')).toContainText('WebGPU accuracy');
});
