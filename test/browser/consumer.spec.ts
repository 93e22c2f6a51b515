// The package as a user installs it: examples/consumer is copied to a temporary folder, given the tarball
// that global-setup.ts packed (`npm pack`, as `npm publish` would), type-checked with `tsc --strict`
// against the shipped .d.ts files, built with Vite, served as static files on 127.0.0.1 and opened in
// headless Chromium, where it trains XOR on createBackend('auto').
//
// The example's own devDependencies (typescript, vite) are dropped from the copy and this repository's
// binaries, the same versions, run instead: installing them would download ~30 MB from the registry on
// every run. What is installed is exactly what a user gets from npm: the tarball, with no dependencies.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { promisify } from 'node:util';
import { test, expect } from '@playwright/test';

const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/** Runs a command in `cwd`; on failure the error carries its output, which is what a test log needs. */
async function sh(cwd: string, command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd, timeout: 120_000 });
    return stdout + stderr;
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}${stderr}`);
  }
}

/** A static file server for `dir` on 127.0.0.1 (a secure context), on a free port the OS picks. */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(dir, path.endsWith('/') ? `${path}index.html` : path);
    try {
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

test('examples/consumer installs the packed tarball, type-checks strictly, builds and trains XOR', async ({ page }) => {
  test.setTimeout(180_000);
  const tarball = process.env.WEBGPU_BACKPROP_TARBALL;
  if (!tarball) throw new Error('WEBGPU_BACKPROP_TARBALL is not set: test/global-setup.ts packs the library');
  const app = mkdtempSync(join(tmpdir(), 'webgpu-backprop-consumer-'));
  const bin = (name: string) => join(root, 'node_modules', '.bin', name);
  let server: Server | undefined;
  try {
    cpSync(join(root, 'examples/consumer'), app, {
      recursive: true,
      filter: (src) => !/[/\\](node_modules|dist)$/.test(src),
    });
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    pkg.dependencies['webgpu-backprop'] = `file:${tarball}`;
    delete pkg.devDependencies;
    writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    // --offline: the tarball has no dependencies, so nothing may come from the registry.
    await sh(app, 'npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock']);
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/webgpu-backprop/package.json'), 'utf8'));
    expect(installed.name).toBe('webgpu-backprop');

    await sh(app, bin('tsc'), ['--strict', '--noEmit', '-p', 'tsconfig.json']);
    await sh(app, bin('vite'), ['build', '--logLevel', 'warn']);

    const served = await serve(join(app, 'dist'));
    server = served.server;
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(served.url);
    const status = page.getByTestId('status');
    await expect(status).toHaveAttribute('data-state', /done|failed/, { timeout: 60_000 });
    expect(await status.textContent()).toMatch(/^done: /);

    // 'auto' measured WebGPU against wasm and says which won and why (wasm, on SwiftShader; this page is not
    // cross-origin isolated, so wasm runs on one thread).
    if (process.env.WEBGPU_TESTS !== 'skip') {
      await expect(page.getByTestId('backend')).toHaveText(
        /^Backend: (webgpu|wasm \(wasm is faster here: one training step of .* on wasm \(1 thread\) and .* on WebGPU .*, measured now\))$/,
      );
    }
    const rows = await page
      .getByTestId('predictions')
      .locator('tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => Number(td.textContent))));
    expect(rows).toHaveLength(4);
    for (const [x1, x2, target, prediction] of rows) {
      expect(target, `XOR(${x1}, ${x2})`).toBe(x1 ^ x2);
      // Trained: every prediction on the right side of 0.5, with a margin.
      if (target === 1) expect(prediction, `prediction for (${x1}, ${x2})`).toBeGreaterThan(0.8);
      else expect(prediction, `prediction for (${x1}, ${x2})`).toBeLessThan(0.2);
    }
    expect(problems, 'console errors and page errors').toEqual([]);
  } finally {
    server?.close();
    rmSync(app, { recursive: true, force: true });
  }
});
