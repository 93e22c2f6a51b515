// The testing preset as users get it: examples/testing (a user's project with a Vitest browser-mode test
// and a Playwright test) is run against the packed package, and the in-page adapter check is seen to fail
// clearly in a Chromium launched without --enable-unsafe-webgpu.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium, expect, test } from '@playwright/test';
import { playwrightPreset } from '../../src/testing/presets';

const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/** Runs a command; on failure the error carries its output. */
async function sh(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const path = `${join(root, 'node_modules/.bin')}:${process.env.PATH}`;
    const { stdout, stderr } = await run(command, args, {
      cwd,
      timeout: 150_000,
      env: { ...process.env, PATH: path, ...env },
    });
    return stdout + stderr;
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${stdout}${stderr}`);
  }
}

test('examples/testing: its Vitest browser-mode and Playwright tests pass against the packed package', async () => {
  test.setTimeout(240_000);
  const tarball = process.env.WEBGPU_BACKPROP_TARBALL;
  if (!tarball) throw new Error('WEBGPU_BACKPROP_TARBALL is not set: test/global-setup.ts packs the library');
  // Inside the repository (ignored by git), so that the example's test runners — vitest, playwright, vite —
  // resolve from this repository's node_modules: the same versions, with nothing downloaded. The package
  // itself is installed from the tarball, as a user's project gets it.
  mkdirSync(join(root, 'examples/.run'), { recursive: true });
  const app = mkdtempSync(join(root, 'examples/.run/testing-'));
  try {
    cpSync(join(root, 'examples/testing'), app, { recursive: true, filter: (src) => !/[/\\]node_modules$/.test(src) });
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    pkg.dependencies['webgpu-backprop'] = `file:${tarball}`;
    delete pkg.devDependencies;
    writeFileSync(join(app, 'package.json'), JSON.stringify(pkg, null, 2));
    await sh(app, 'npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock']);
    const unit = await sh(app, 'vitest', ['run']);
    expect(unit).toMatch(/1 passed/);
    const e2e = await sh(app, 'playwright', ['test'], { PORT: String(5392 + test.info().workerIndex) });
    expect(e2e).toMatch(/1 passed/);
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});

test('without --enable-unsafe-webgpu the adapter check fails with the reason and what to do', async ({ baseURL }) => {
  const { use } = await playwrightPreset({ webgpu: false, log: false });
  expect(use.launchOptions.args).not.toContain('--enable-unsafe-webgpu');
  const browser = await chromium.launch({ ...use.launchOptions, headless: true });
  try {
    const page = await browser.newPage();
    await page.goto(`${baseURL}/test/browser/harness.html`);
    await page.waitForFunction(() => document.title === 'harness ready');
    const message = await page.evaluate(async () => {
      try {
        (await window.T.requireWebGpu()).destroy();
        return 'an adapter was found';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(message).toMatch(/^No WebGPU adapter in this browser: /);
    expect(message).toContain('--enable-unsafe-webgpu');
    expect(message).toContain('WEBGPU_TESTS=skip');
  } finally {
    await browser.close();
  }
});
