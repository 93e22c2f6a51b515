// A Vitest browser-mode test: the model trains on WebGPU, in headless Chromium, to the same numbers as on
// the CPU backend. Without a WebGPU adapter it fails with the reason (requireWebGpu); WEBGPU_TESTS=skip
// skips it instead.
import { expect, test } from 'vitest';
import { createBackend } from 'webgpu-backprop';
import { requireWebGpu } from 'webgpu-backprop/testing/page';
import { train } from '../src/model';

test.skipIf(import.meta.env.WEBGPU_TESTS === 'skip')('trains on WebGPU like on the CPU', async () => {
  const gpu = await requireWebGpu();
  const onGpu = await train(gpu);
  const onCpu = await train(await createBackend('cpu'));
  gpu.destroy();
  expect(onGpu.losses[19]).toBeLessThan(onGpu.losses[0]);
  expect(onGpu.accuracy).toBeGreaterThan(0.9);
  // f32 on both, summed in different orders: equal to about 1e-6 per step, so 1e-4 over 20 steps; plus 1e-6
  // absolute, as these blobs are learnt to a loss near 1e-4, where f32's 6e-8 steps near p = 1 count.
  onGpu.losses.forEach((loss, i) => {
    expect(Math.abs(loss - onCpu.losses[i])).toBeLessThanOrEqual(1e-6 + 1e-4 * onCpu.losses[i]);
  });
  onGpu.weights.forEach((w, i) => {
    expect(Math.abs(w - onCpu.weights[i])).toBeLessThanOrEqual(1e-6 + 1e-3 * Math.abs(onCpu.weights[i]));
  });
});
