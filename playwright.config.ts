import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './test/launch';

const PORT = Number(process.env.TEST_PORT ?? 5179);

export default defineConfig({
  testDir: 'test/browser',
  // SwiftShader runs every shader on the CPU; two workers share the two cores.
  workers: Number(process.env.PW_WORKERS ?? 2),
  fullyParallel: true,
  timeout: 120_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [['list']] : [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: chromiumLaunchOptions(),
  },
  webServer: {
    command: `npx vite --mode test --port ${PORT} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${PORT}/test/browser/harness.html`,
    // Never reuse a server already on the port: it may serve another checkout's (or an older) code.
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
