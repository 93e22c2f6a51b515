// The demo page end to end (demo/index.html, served by Vite at /demo/index.html in test mode): train the
// spiral and the digits on WebGPU, move a run to the CPU, save and load weights, and the page without
// WebGPU. The page publishes window.demoState and window.demoProbe(); the tests poll those rather than
// sleeping. Every test fails on any console error or uncaught page error.
// DEMO_SCREENSHOTS=1 also writes docs/spiral.png and docs/digits.png (the README shows them).
import { readFileSync, writeFileSync } from 'node:fs';
import { test as base, expect, type Page, type TestInfo } from '@playwright/test';

const test = base.extend<{ demo: Page }>({
  demo: async ({ page }, use) => {
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await use(page);
    expect(problems, 'console errors and page errors during the test').toEqual([]);
  },
});

test.use({ viewport: { width: 1280, height: 800 } });

/**
 * Opens the demo (with settings in `query`, e.g. '?dataset=digits', so that no other network is built
 * first) and waits for its first network; returns why WebGPU is missing, or null.
 */
async function open(page: Page, query = ''): Promise<string | null> {
  await page.goto(`/demo/index.html${query}`);
  // Generous: the first network compiles its shaders, which SwiftShader does slowly on a busy machine.
  await page.waitForFunction(() => window.demoState?.ready === true, null, { timeout: 60_000 });
  return page.evaluate(() => window.demoState.webgpuUnavailable);
}

/** Like the GPU fixtures: no adapter is a failure with the reason, unless WEBGPU_TESTS=skip. */
function needWebGpu(reason: string | null, testInfo: TestInfo): void {
  if (reason === null) return;
  if (process.env.WEBGPU_TESTS === 'skip') testInfo.skip(true, `WEBGPU_TESTS=skip and no WebGPU: ${reason}`);
  throw new Error(`No WebGPU adapter in headless Chromium: ${reason} (set WEBGPU_TESTS=skip to skip)`);
}

/** Waits until the queued page actions have run and the page shows `dataset` with a fresh network. */
async function settled(page: Page, dataset: string): Promise<void> {
  await page.waitForFunction((d) => window.demoState.dataset === d && window.demoState.status === 'ready', dataset, {
    timeout: 30_000,
  });
}

/** Pauses the run, if it has not already finished by itself, and waits until it has stopped. */
async function pause(page: Page): Promise<void> {
  // Checked and clicked in one turn of the page: the run may end between two Playwright calls.
  await page.evaluate(() => {
    const button = document.querySelector<HTMLButtonElement>('[data-testid="pause"]');
    if (!button) throw new Error('no [data-testid="pause"] button on the page');
    if (!button.disabled) button.click();
  });
  await page.waitForFunction(() => ['paused', 'done'].includes(window.demoState.status));
}

/** The loss went down: the last epoch's is under half the first epoch's, and so is the later half's mean. */
function expectFalling(history: number[], what: string): void {
  expect(history.length, `${what}: epochs recorded`).toBeGreaterThanOrEqual(5);
  const late = history.slice(Math.floor(history.length / 2));
  const mean = late.reduce((a, b) => a + b, 0) / late.length;
  expect(history[history.length - 1], `${what}: last epoch's loss vs the first epoch's ${history[0]}`).toBeLessThan(
    history[0] * 0.5,
  );
  expect(mean, `${what}: mean loss of the later epochs vs the first epoch's ${history[0]}`).toBeLessThan(
    history[0] * 0.75,
  );
}

async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const png = await page.screenshot({ fullPage: true });
  await testInfo.attach(name, { body: png, contentType: 'image/png' });
  if (process.env.DEMO_SCREENSHOTS) writeFileSync(`docs/${name}`, png);
}

test('spiral on WebGPU: the loss falls, training accuracy reaches 90 %, the decision map is drawn', async ({
  demo: page,
}, testInfo) => {
  const digitRequests: string[] = [];
  page.on('request', (r) => r.url().includes('mnist') && digitRequests.push(r.url()));
  needWebGpu(await open(page), testInfo);
  await page.getByTestId('dataset').selectOption('spiral');
  await page.getByTestId('backend').selectOption('webgpu');
  await settled(page, 'spiral');
  await page.getByTestId('start').click();
  await page.waitForFunction(() => (window.demoState.trainAcc ?? 0) >= 0.9 && window.demoState.epoch >= 8, null, {
    timeout: 60_000,
  });
  await pause(page);
  const s = await page.evaluate(() => window.demoState);
  expect(s.backend).toBe('webgpu');
  expect(s.trainAcc).toBeGreaterThanOrEqual(0.9);
  expectFalling(s.lossHistory, 'spiral on WebGPU');
  expect(await page.getByTestId('stat-train-acc').textContent()).toMatch(/^(9\d|100)\.\d %$/);

  // The map: each class's colour must own a real share of the canvas (blank or one-colour fails).
  const shares = await page.getByTestId('decision-map').evaluate((canvas: HTMLCanvasElement) => {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('the decision map canvas has no 2-D context');
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const counts = [0, 0, 0];
    let tinted = 0;
    for (let p = 0; p < data.length; p += 4) {
      const [r, g, b] = [data[p], data[p + 1], data[p + 2]];
      if (Math.max(r, g, b) - Math.min(r, g, b) < 40) continue; // white or grey: no class
      tinted++;
      counts[r >= g && r >= b ? 0 : b >= g ? 1 : 2]++; // orange, blue, green
    }
    const total = data.length / 4;
    return { tinted: tinted / total, classes: counts.map((c) => c / total) };
  });
  expect(shares.tinted, 'share of the map coloured by a class').toBeGreaterThan(0.6);
  for (const [k, share] of shares.classes.entries()) expect(share, `map share of class ${k}`).toBeGreaterThan(0.1);
  expect(digitRequests, 'the digits load only when chosen').toEqual([]);
  await screenshot(page, testInfo, 'spiral.png');
});

test('digits on WebGPU: 784→64→10 softmax reaches 85 % test accuracy; curves, confusion matrix, digit strip', async ({
  demo: page,
}, testInfo) => {
  needWebGpu(await open(page, '?dataset=digits'), testInfo);
  await settled(page, 'digits');
  await page.getByTestId('hidden').fill('64');
  await page.getByTestId('hidden').dispatchEvent('change');
  await page.getByTestId('backend').selectOption('webgpu');
  await settled(page, 'digits');
  await expect(page.getByTestId('net-summary')).toContainText('784→64→10');
  await expect(page.getByTestId('loss')).toHaveValue('crossEntropy'); // digits default to softmax + cross-entropy
  await page.getByTestId('start').click();
  await page.waitForFunction(() => (window.demoState.testAcc ?? 0) >= 0.85, null, { timeout: 60_000 });
  await pause(page);
  const s = await page.evaluate(() => window.demoState);
  expect(s.testAcc).toBeGreaterThanOrEqual(0.85);
  expect(s.backend).toBe('webgpu');
  // The test curves are fit's validation history: one point per completed epoch.
  expect(s.testLossHistory).toHaveLength(s.lossHistory.length);
  expect(s.testAccHistory).toHaveLength(s.lossHistory.length);
  expect(s.testAccHistory.at(-1)).toBeGreaterThanOrEqual(0.85);

  // Confusion matrix: 10×10 counts adding up to the 2,000 held-out digits, mostly on the diagonal.
  const cells = await page
    .getByTestId('confusion-matrix')
    .locator('tbody tr')
    .evaluateAll((rows) =>
      rows.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => Number(td.textContent || 0))),
    );
  expect(cells).toHaveLength(10);
  for (const row of cells) expect(row).toHaveLength(10);
  const total = cells.flat().reduce((a, b) => a + b, 0);
  const diagonal = cells.reduce((sum, row, i) => sum + row[i], 0);
  expect(total).toBe(2000);
  if (s.testAcc === null) throw new Error('demoState.testAcc is null after training');
  expect(diagonal / total).toBeCloseTo(s.testAcc, 6);

  // The strip: 20 test digits, each drawn and labelled with a digit; wrong ones are marked.
  const strip = page.getByTestId('digit-strip').locator('figure');
  await expect(strip).toHaveCount(20);
  const captions = await strip.locator('figcaption').allTextContents();
  for (const c of captions) expect(c).toMatch(/^\d( ✗)?$/);
  const marked = await strip.evaluateAll((figs) => figs.filter((f) => f.classList.contains('wrong')).length);
  expect(marked).toBe(captions.filter((c) => c.includes('✗')).length);
  await expect(page.getByTestId('digit-mistakes').locator('figure.wrong').first()).toBeVisible();
  await screenshot(page, testInfo, 'digits.png');
});

test('a run moved to the CPU keeps training; Save then Load restores the same predictions', async ({
  demo: page,
}, testInfo) => {
  const noGpu = await open(page);
  await page.getByTestId('dataset').selectOption('spiral');
  await settled(page, 'spiral');
  await page.getByTestId('start').click();
  if (noGpu === null) {
    // Start on WebGPU, then switch mid-run: the network moves with its weights and optimizer state.
    await page.waitForFunction(() => window.demoState.epoch >= 3, null, { timeout: 60_000 });
    await page.getByTestId('backend').selectOption('cpu');
    await page.waitForFunction(() => window.demoState.backend === 'cpu' && window.demoState.status === 'training');
  }
  const before = await page.evaluate(() => window.demoState.epoch);
  await page.waitForFunction((e) => window.demoState.epoch >= e + 10, before, { timeout: 30_000 });
  await pause(page);
  const s = await page.evaluate(() => window.demoState);
  expect(s.backend).toBe('cpu');
  expectFalling(s.lossHistory, 'spiral moved to the CPU');
  expect(s.lossHistory[s.lossHistory.length - 1], 'loss on the CPU vs the epoch before the move').toBeLessThan(
    s.lossHistory[before - 1] ?? Infinity,
  );

  const trained = await page.evaluate(() => window.demoProbe(32));
  const downloading = page.waitForEvent('download');
  await page.getByTestId('save').click();
  const file = testInfo.outputPath('spiral-weights.json');
  await (await downloading).saveAs(file);

  await page.getByTestId('reset').click();
  await page.waitForFunction(() => window.demoState.epoch === 0 && window.demoState.status === 'ready');
  const fresh = await page.evaluate(() => window.demoProbe(32));
  expect(fresh).not.toEqual(trained);

  await page.getByTestId('load-file').setInputFiles(file);
  await page.waitForFunction(() => window.demoState.loads === 1 && window.demoState.status === 'ready');
  expect(await page.evaluate(() => window.demoProbe(32))).toEqual(trained); // same backend: bit for bit

  if (noGpu === null) {
    // Back to WebGPU: the loaded weights move along and predict the same, up to f32 summation order.
    await page.getByTestId('backend').selectOption('webgpu');
    await page.waitForFunction(() => window.demoState.backend === 'webgpu');
    const onGpu = await page.evaluate(() => window.demoProbe(32));
    expect(onGpu).toHaveLength(trained.length);
    onGpu.forEach((v, i) => {
      expect(Math.abs(v - trained[i]), `output ${i}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(trained[i]));
    });
  }

  // Training goes on from the loaded weights.
  await page.getByTestId('start').click();
  await page.waitForFunction(() => window.demoState.epoch >= 3, null, { timeout: 30_000 });
  await pause(page);

  // A tampered file that claims a billion hidden units: refused for its size, and the page says why.
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  saved.layers[0].units = 1e9;
  const buffer = Buffer.from(JSON.stringify(saved));
  const inUse = await page.evaluate(() => window.demoProbe(32));
  await page.getByTestId('load-file').setInputFiles({ name: 'huge.json', mimeType: 'application/json', buffer });
  await page.waitForFunction(() => window.demoState.status === 'error');
  await expect(page.getByTestId('status')).toContainText(
    'huge.json: HostMemoryError: Network.fromJSON: a 2→1000000000',
  );
  expect(await page.evaluate(() => window.demoProbe(32)), 'the network in use is unchanged').toEqual(inUse);
});

test('without WebGPU: the banner gives the reason and training runs on WebAssembly', async ({ demo: page }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
  const reason = await open(page);
  expect(reason).toMatch(/^navigator.gpu is missing/);
  const banner = page.getByTestId('webgpu-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('navigator.gpu is missing');
  await expect(banner).toContainText('WebAssembly backend');
  await expect(page.getByTestId('backend')).toHaveValue('wasm');
  await expect(page.getByTestId('backend').locator('option[value="webgpu"]')).toBeDisabled();

  await page.getByTestId('dataset').selectOption('xor');
  await settled(page, 'xor');
  await page.getByTestId('start').click();
  await page.waitForFunction(() => window.demoState.epoch >= 20 && (window.demoState.trainAcc ?? 0) >= 0.9, null, {
    timeout: 40_000,
  });
  await pause(page);
  const s = await page.evaluate(() => window.demoState);
  expect(s.backend).toBe('wasm');
  expectFalling(s.lossHistory, 'XOR on wasm');
  // The page is cross-origin isolated (Vite sends COOP/COEP), so the wasm backend runs threads.
  await expect(page.getByTestId('device')).toContainText(/WebAssembly .*SIMD · \d+ threads?/);
});
