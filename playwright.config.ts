import { defineConfig } from '@playwright/test';
import { playwrightPreset } from './src/testing/presets';

const PORT = Number(process.env.TEST_PORT ?? 5179);

// The repository's own tests use the preset users get from webgpu-backprop/testing (src/testing): the
// browser it resolves (said once, by the runner; its workers reuse the answer silently), the WebGPU flags,
// and Vite on 127.0.0.1. Top-level await works: the config is an ES module ("type": "module").
const { use, webServer } = await playwrightPreset({
  port: PORT,
  command: `npx vite --mode test --port ${PORT} --strictPort --host 127.0.0.1`,
  readyPath: '/test/browser/harness.html',
});

export default defineConfig({
  testDir: 'test/browser',
  // Packs the library as `npm publish` would (prepack builds dist/), for the specs that test what users get.
  globalSetup: './test/global-setup.ts',
  // SwiftShader runs every shader on the CPU; two workers share the two cores.
  workers: Number(process.env.PW_WORKERS ?? 2),
  fullyParallel: true,
  timeout: 120_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use,
  webServer,
});
