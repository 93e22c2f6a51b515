// GFLOP/s of the wasm engine's GEMM in every form, 1024³ and 256×1024×1024, with 1 and 2 threads: in Node
// (the module loaded through Vite, which compiles the kernels) and in headless Chromium on a
// cross-origin-isolated page served by Vite (launched as the tests launch it). Prints a table.
//
//   npx tsx bench/wasm-gemm.ts [--where node,chromium] [--threads 1,2] [--reps 7]
// Then one SGD step of a 784→1024→1024→10 network at batch 256, as a single engine program.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { resolveChromium } from '../src/testing/browser';
import type { GemmResult } from './wasm-gemm-core';

const root = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    where: { type: 'string', default: 'node,chromium' },
    threads: { type: 'string', default: '1,2' },
    reps: { type: 'string', default: '7' },
  },
});
const where = (args.where ?? '').split(',');
const threadCounts = (args.threads ?? '').split(',').map(Number);
const reps = Number(args.reps);
const rows: (GemmResult & { where: string })[] = [];
const steps: { where: string; threads: number; ms: number; all: number[] }[] = [];
/** What bench/wasm-gemm.html puts on window. */
type Core = typeof import('./wasm-gemm-core');
type Page = Pick<Core, 'measure' | 'measureStep' | 'verify'>;

/** Prints the outcome of verify(); the figures of a build that computes wrong numbers mean nothing. */
function report(where: string, failures: string[]): void {
  if (failures.length === 0) console.log(`${where}: results checked against f64 sums, 1 and N threads identical`);
  else {
    console.error(`${where}: WRONG RESULTS\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

if (where.includes('node')) {
  const server = await createServer({
    configFile: resolve(root, 'vite.config.ts'),
    mode: 'test',
    server: { middlewareMode: true, hmr: false },
    appType: 'custom',
    logLevel: 'error',
  });
  try {
    const core = (await server.ssrLoadModule('/bench/wasm-gemm-core.ts')) as Core;
    report('node', await core.verify(Math.max(...threadCounts)));
    for (const threads of threadCounts) {
      for (const r of await core.measure({ threads, reps })) rows.push({ ...r, where: 'node' });
      steps.push({ where: 'node', threads, ...(await core.measureStep({ threads, reps })) });
    }
  } finally {
    await server.close();
  }
}

if (where.includes('chromium')) {
  const port = Number(process.env.BENCH_PORT ?? 5288);
  const server = await createServer({
    configFile: resolve(root, 'vite.config.ts'),
    mode: 'test',
    server: { port, strictPort: true, host: '127.0.0.1' },
    logLevel: 'error',
  });
  await server.listen();
  const found = await resolveChromium();
  const browser = await chromium.launch({ executablePath: found.executablePath, args: found.args, headless: true });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`[page] ${m.text()}`);
    });
    await page.goto(`http://127.0.0.1:${port}/bench/wasm-gemm.html`);
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
    if (!(await page.evaluate(() => crossOriginIsolated)))
      throw new Error('the bench page is not cross-origin isolated');
    report('chromium', await page.evaluate((t) => (window as unknown as Page).verify(t), Math.max(...threadCounts)));
    for (const threads of threadCounts) {
      const results = await page.evaluate((o) => (window as unknown as Page).measure(o), { threads, reps });
      for (const r of results) rows.push({ ...r, where: 'chromium' });
      const step = await page.evaluate((o) => (window as unknown as Page).measureStep(o), { threads, reps });
      steps.push({ where: 'chromium', threads, ...step });
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

const pad = (s: string, w: number) => s.padEnd(w);
console.log(`\nGEMM GFLOP/s, median of ${reps} after a warm-up run (min–max in brackets)`);
console.log(`${pad('where', 9)}${pad('threads', 8)}${pad('simd', 8)}${pad('m×n×k', 16)}${pad('form', 7)}GFLOP/s`);
for (const r of rows) {
  const range = `[${Math.min(...r.all).toFixed(1)}–${Math.max(...r.all).toFixed(1)}]`;
  console.log(
    `${pad(r.where, 9)}${pad(String(r.threads), 8)}${pad(r.relaxedSimd ? 'relaxed' : 'plain', 8)}` +
      `${pad(`${r.m}×${r.n}×${r.k}`, 16)}${pad(r.form, 7)}${r.gflops.toFixed(1).padStart(6)} ${range}`,
  );
}
console.log(`\nOne SGD step of 784→1024→1024→10 at batch 256 as one program, ms, median of ${reps} (min–max)`);
for (const s of steps) {
  const range = `[${Math.min(...s.all).toFixed(1)}–${Math.max(...s.all).toFixed(1)}]`;
  console.log(`${pad(s.where, 9)}${pad(String(s.threads), 8)}${s.ms.toFixed(1).padStart(6)} ${range}`);
}
