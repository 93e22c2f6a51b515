// One Vite config, three jobs chosen by --mode:
//   (default)  the demo pages in demo/ (npm start, npm run build:demo)
//   test       the whole repository as the root, so Playwright can open test/browser/*.html and demo/
//   lib        the library build: dist/webgpu-backprop.js, ES module, WGSL inlined via ?raw and the wasm
//              kernels inlined as base64 by tools/vite-plugin-asc.ts; and the testing entries
// Every mode compiles the AssemblyScript kernels (`?asc` imports), and every server sends the headers that
// make a page cross-origin isolated, so the wasm backend can share memory between its worker threads.
import { defineConfig } from 'vite';
import { resolve } from 'node:path';
import asc from './tools/vite-plugin-asc.ts';

const here = import.meta.dirname;

/** COOP + COEP: the page gets crossOriginIsolated, hence SharedArrayBuffer and shared wasm memory. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig(({ mode }) => {
  const plugins = [asc()];
  if (mode === 'lib') {
    return {
      plugins,
      build: {
        outDir: 'dist',
        // Start from an empty dist/ so a file left by an older build is never packed. npm run build runs Vite
        // first and tsc (dist/types) after it.
        emptyOutDir: true,
        target: 'es2022',
        lib: {
          // The library; webgpu-backprop/testing (Node: browser, flags, test-runner presets) and
          // webgpu-backprop/testing/page (in the page: requireWebGpu), which shares the library's chunk.
          entry: {
            'webgpu-backprop': resolve(here, 'src/index.ts'),
            testing: resolve(here, 'src/testing/index.ts'),
            'testing-page': resolve(here, 'src/testing/page.ts'),
          },
          formats: ['es'],
          fileName: (_format, name) => `${name}.js`,
        },
        rollupOptions: {
          // The testing entry runs in Node, with the test runners the user installed.
          // testing-page imports the library by name: the user's copy, not a second one.
          external: [
            /^node:/,
            /^webgpu-backprop$/,
            '@vitest/browser-playwright',
            /^playwright/,
            '@playwright/test',
            '@sparticuz/chromium',
          ],
        },
      },
    };
  }
  // The package's own name, for the code that imports it so (src/testing/page.ts, the examples' tests).
  const resolveSelf = { alias: [{ find: /^webgpu-backprop$/, replacement: resolve(here, 'src/index.ts') }] };
  // npm start takes the next free port when this one is busy (Vite prints the URL it got). The tests need
  // the port they were given, so test mode is strict (and Playwright's webServer passes --strictPort too).
  const server = {
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 5173),
    strictPort: false,
    headers: ISOLATION_HEADERS,
  };
  if (mode === 'test') {
    // No HMR or file watching: a file written mid-run (test-results/, a helper's edit) must never reload
    // a page that a test is driving.
    // Dependencies a page imports later (dynamically) are pre-bundled up front: discovering one mid-run
    // makes Vite re-optimise and invalidate the modules a test page has already loaded.
    return {
      plugins,
      resolve: resolveSelf,
      root: here,
      server: { ...server, strictPort: true, hmr: false, watch: null },
      preview: server,
      optimizeDeps: { include: ['fast-check', 'uplot'] },
      logLevel: 'warn',
    };
  }
  return {
    plugins,
    resolve: resolveSelf,
    root: resolve(here, 'demo'),
    base: './', // the built demo works from any folder of any static server
    server,
    preview: server,
    build: {
      outDir: resolve(here, 'dist-demo'),
      emptyOutDir: true,
      target: 'es2022',
      rollupOptions: { input: { index: resolve(here, 'demo/index.html'), bench: resolve(here, 'demo/bench.html') } },
    },
  };
});
