// The benchmark runner end to end on one tiny case (CI stays fast), and its HTML report in a browser.
// Nothing here depends on which adapter runs it: the same test passes on a real GPU.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { test, expect } from '@playwright/test';

test('npm run bench on one tiny case writes JSON and an HTML report with charts', async ({ page }) => {
  test.setTimeout(180_000);
  const out = mkdtempSync(join(tmpdir(), 'bench-'));
  const root = resolve(import.meta.dirname, '../..');
  const { stdout } = await promisify(execFile)(
    'npx',
    ['tsx', 'bench/run.ts', '--cases', 'matmul-ab-128x', '--reps', '2', '--no-autotune', '--out', out],
    { cwd: root, env: { ...process.env, BENCH_PORT: process.env.BENCH_PORT ?? '5191' }, timeout: 150_000 },
  );
  expect(stdout).toMatch(/\| A·B 128×128×128 +\| [\d.]+ ms/);
  const files = readdirSync(out).sort();
  expect(files).toHaveLength(2);
  const written = (ext: string) => {
    const name = files.find((f) => f.endsWith(ext));
    if (!name) throw new Error(`no ${ext} file in ${out}: ${files.join(', ')}`);
    return join(out, name);
  };
  const json = JSON.parse(readFileSync(written('.json'), 'utf8'));
  expect(json.results.map((r: { backend: string }) => r.backend)).toEqual(['webgpu', 'wasm', 'wasm1', 'cpu']);
  for (const r of json.results) {
    expect(r.flops).toBe(2 * 128 ** 3);
    expect(r.ms.runs).toBe(2);
    // Derived figures are computed from the measured median, nothing else.
    expect(r.gflops).toBeCloseTo(r.flops / (r.ms.median * 1e6), 6);
  }
  await page.goto(`file://${written('.html')}`);
  await expect(page.locator('h1')).toHaveText('webgpu-backprop benchmark');
  await expect(page.locator('svg.bench-chart')).toHaveCount(3);
  const bars = await page
    .locator('svg.bench-chart rect.bar')
    .evaluateAll((els) => els.map((e) => Number(e.getAttribute('width'))));
  expect(bars).toHaveLength(4);
  for (const w of bars) expect(w).toBeGreaterThan(0);
  // The report names the adapter it ran on, whatever it is (a software one is marked as such).
  expect(json.meta.adapter.name.length).toBeGreaterThan(0);
  expect(stdout).toContain(`Adapter: ${json.meta.adapter.name}`);
  // And the wasm set-up it measured: threads (2 on the isolated bench page) and SIMD.
  expect(json.meta.wasm).toMatchObject({ threads: expect.any(Number), relaxedSimd: expect.any(Boolean) });
  expect(stdout).toMatch(/wasm: \d+ threads?: /);
  await expect(page.locator('body')).toContainText(json.meta.adapter.name);
});
