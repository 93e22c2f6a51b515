// How we start Chromium headless with WebGPU on machines without a GPU (SwiftShader) and without
// Playwright's own browser downloads. Shared by playwright.config.ts and the benchmark runner.
import type { LaunchOptions } from '@playwright/test';

export const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  // SwiftShader is the adapter we get without a GPU; on a machine with Vulkan, Chromium picks the real one.
  '--enable-features=Vulkan',
  '--no-sandbox',
  // Without these Chromium keeps retrying network services on a closed network and stalls.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function chromiumLaunchOptions(): LaunchOptions {
  return { executablePath: CHROME_PATH, args: CHROMIUM_ARGS };
}
