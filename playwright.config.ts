import { defineConfig } from '@playwright/test';
import { resolveChromium } from './src/testing/browser';

const PORT = Number(process.env.TEST_PORT ?? 5179);

// Top-level await works: the config is an ES module ("type": "module"), and Playwright imports it. The
// runner resolves the browser and prints which one and why; its workers load this file again and reuse
// the runner's answer (resolveChromium passes it down in the environment), silently.
const chromium = await resolveChromium();

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
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: { executablePath: chromium.executablePath, args: chromium.args },
  },
  webServer: {
    command: `npx vite --mode test --port ${PORT} --strictPort --host 127.0.0.1`,
    url: `http://127.0.0.1:${PORT}/test/browser/harness.html`,
    // Never reuse a server already on the port: it may serve another checkout's (or an older) code.
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
