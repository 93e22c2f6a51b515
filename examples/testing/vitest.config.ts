// Vitest in browser mode: tests/*.test.ts run in headless Chromium with WebGPU, launched the way
// webgpu-backprop/testing finds and flags it (SwiftShader where there is no GPU).
import { defineConfig } from 'vitest/config';
import { vitestBrowserPreset, webgpuTestsDefine } from 'webgpu-backprop/testing';

export default defineConfig({
  define: webgpuTestsDefine(), // WEBGPU_TESTS=skip reaches the tests as import.meta.env.WEBGPU_TESTS
  test: {
    include: ['tests/**/*.test.ts'],
    ...(await vitestBrowserPreset()),
  },
});
