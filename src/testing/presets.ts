// Test-runner presets for headless WebGPU tests of your models: Playwright settings (browser, flags, a
// Vite server on 127.0.0.1) and a Vitest browser-mode configuration (its Playwright provider, the same
// browser and flags). Node only; both find the browser with resolveChromium() (browser.ts).
import { type ResolvedChromium, resolveChromium, WEBGPU_CHROMIUM_ARGS } from './browser';

export interface PresetOptions {
  /**
   * Launch with --enable-unsafe-webgpu (default true). false launches without it: headless Chromium then
   * has no WebGPU adapter — useful to check that a test fails clearly (requireWebGpu) when there is none.
   */
  webgpu?: boolean;
  /** Where to say which browser was picked (default stderr; false: nothing). */
  log?: ((line: string) => void) | false;
}

/** The launch flags for these options. */
function flags(chromium: ResolvedChromium, options: PresetOptions): string[] {
  return options.webgpu === false ? chromium.args.filter((a) => a !== '--enable-unsafe-webgpu') : chromium.args;
}

export interface PlaywrightPresetOptions extends PresetOptions {
  /** Port of the test server (default 5179). The page must be on 127.0.0.1 or localhost: a secure context. */
  port?: number;
  /** The server command (default: Vite on 127.0.0.1 at `port`, strictly that port). */
  command?: string;
  /** A path the server answers once ready (default '/'). */
  readyPath?: string;
}

/**
 * `use`, `webServer` and the browser for a playwright.config.ts:
 *
 *   const { use, webServer } = await playwrightPreset({ port: 5180 });
 *   export default defineConfig({ testDir: 'tests', use, webServer });
 */
export async function playwrightPreset(options: PlaywrightPresetOptions = {}) {
  const chromium = await resolveChromium({ log: options.log });
  const port = options.port ?? 5179;
  const base = `http://127.0.0.1:${port}`;
  return {
    chromium,
    use: {
      baseURL: base,
      browserName: 'chromium' as const,
      headless: true,
      launchOptions: { executablePath: chromium.executablePath, args: flags(chromium, options) },
    },
    webServer: {
      command: options.command ?? `npx vite --port ${port} --strictPort --host 127.0.0.1`,
      url: `${base}${options.readyPath ?? '/'}`,
      // Never reuse a server already on the port: it may serve another project's (or an older) code.
      reuseExistingServer: false,
      timeout: 60_000,
    },
  };
}

/**
 * The `test` section of a vitest.config.ts that runs `*.test.ts` in headless Chromium with WebGPU, on
 * Vitest's Playwright provider (@vitest/browser-playwright, installed beside vitest and playwright):
 *
 *   export default defineConfig({ test: await vitestBrowserPreset() });
 *
 * The opt-out variable WEBGPU_TESTS reaches the tests as import.meta.env.WEBGPU_TESTS once the config adds
 * `define: webgpuTestsDefine()` (below).
 */
export async function vitestBrowserPreset(options: PresetOptions = {}) {
  const chromium = await resolveChromium({ log: options.log });
  const { playwright } = await import('@vitest/browser-playwright');
  return {
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({
        launchOptions: { executablePath: chromium.executablePath, args: flags(chromium, options) },
      }),
      instances: [{ browser: 'chromium' as const }],
    },
  };
}

/** Vite `define` entries that hand WEBGPU_TESTS to test code running in the browser. */
export function webgpuTestsDefine(): Record<string, string> {
  return { 'import.meta.env.WEBGPU_TESTS': JSON.stringify(process.env.WEBGPU_TESTS ?? '') };
}

export { WEBGPU_CHROMIUM_ARGS };
