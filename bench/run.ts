// `npm run bench`: serves the benchmark page with Vite on 127.0.0.1, runs it in headless Chromium
// (found and launched exactly as the tests do it: src/testing/browser.ts), prints progress and a table, and writes
// <out>/<date>.json and a self-contained <out>/<date>.html report.
//
//   npm run bench -- [--quick] [--cases matmul-ab,fit-784] [--backends webgpu,cpu] [--out bench/results]
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium as playwright } from '@playwright/test';
import { createServer } from 'vite';
import { resolveChromium } from '../src/testing/browser';
import { htmlReport, splitLines, textTable } from './report';
import type { BenchConfig, BenchResult } from './types';

const root = resolve(import.meta.dirname, '..');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    cases: { type: 'string' },
    backends: { type: 'string', default: 'webgpu,wasm,wasm1,cpu' },
    out: { type: 'string', default: resolve(root, 'bench/results') },
    reps: { type: 'string' },
    'no-autotune': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(
    'usage: npm run bench -- [--quick] [--cases <id substrings, comma-separated>] [--backends webgpu,wasm,wasm1,cpu]\n' +
      '                       [--out <dir>] [--reps N] [--no-autotune]',
  );
  process.exit(0);
}
const backends = args.backends.split(',').map((b) => b.trim());
for (const b of backends) {
  if (b !== 'webgpu' && b !== 'wasm' && b !== 'wasm1' && b !== 'cpu') {
    console.error(
      `bench: --backends has "${b}" (expected webgpu, wasm, wasm1 (wasm on 1 thread) and/or cpu, comma-separated)`,
    );
    process.exit(2);
  }
}
const config: Partial<BenchConfig> = {
  quick: args.quick,
  cases: args.cases,
  backends: backends as BenchConfig['backends'],
  autotune: !args['no-autotune'],
  ...(args.quick ? { reps: 3, caseBudgetMs: 5_000 } : {}),
  ...(args.reps ? { reps: Number(args.reps), minReps: Math.min(3, Number(args.reps)) } : {}),
};

// Before the server starts: it says which browser and why, and fails early when there is none.
const chromium = await resolveChromium();
const server = await createServer({
  configFile: resolve(root, 'vite.config.ts'),
  server: { port: Number(process.env.BENCH_PORT ?? 5181), strictPort: false, hmr: false },
  logLevel: 'error',
});
await server.listen();
const url = server.resolvedUrls?.local[0];
if (!url) throw new Error('bench: the Vite server reports no local URL after listen()');
const browser = await playwright.launch({
  executablePath: chromium.executablePath,
  args: chromium.args,
  headless: true,
});
let result: BenchResult | undefined;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  const started = Date.now();
  await page.exposeFunction('benchProgress', (done: number, total: number, label: string) => {
    const width = 24;
    const filled = Math.round((done / Math.max(1, total)) * width);
    const secs = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
    console.log(
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(done).padStart(2)}/${total} ${secs} s  ${label}`,
    );
  });
  await page.goto(`${url}bench.html`);
  await page.waitForFunction(() => 'runBenchmark' in window);
  try {
    result = await page.evaluate((cfg) => window.runBenchmark(cfg, window.benchProgress), config);
  } catch (e) {
    // A bad option found in the page (no case matches --cases): its message, without a stack.
    const message = (e as Error).message.replace(/^page\.evaluate: (Error: )?/, '');
    if (!message.startsWith('bench:')) throw e;
    console.error(message.split('\n')[0]);
  }
  if (result) result.meta.browserVersion = `Chromium ${browser.version()}`;
} finally {
  await browser.close();
  await server.close();
}
if (!result) process.exit(2);

const adapter = result.meta.adapter?.name ?? 'none';
const software = /swiftshader/i.test(adapter) ? ' (SwiftShader: software on the CPU, not a real GPU)' : '';
console.log(`\nAdapter: ${adapter}${software}`);
const wasm = result.meta.wasm;
if (wasm) console.log(`wasm: ${wasm.threadsReason}${wasm.relaxedSimd ? ', relaxed SIMD' : ', plain SIMD'}`);
console.log(`Browser: ${result.meta.browserVersion}\n`);
console.log(textTable(result));
for (const line of splitLines(result)) console.log(line);
for (const r of result.results.filter((r) => r.skipped))
  console.log(`skipped: ${r.name} on ${r.backend}: ${r.skipped}`);
console.log(`\nMethod: ${result.meta.method}`);

const outDir = resolve(args.out);
mkdirSync(outDir, { recursive: true });
const stamp = result.meta.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
writeFileSync(resolve(outDir, `${stamp}.json`), JSON.stringify(result, null, 2));
writeFileSync(resolve(outDir, `${stamp}.html`), htmlReport(result));
console.log(`\nWrote ${resolve(outDir, `${stamp}.json`)} and ${resolve(outDir, `${stamp}.html`)}`);
