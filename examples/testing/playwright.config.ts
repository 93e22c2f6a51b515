// Playwright: e2e/*.spec.ts drive index.html, served by Vite on 127.0.0.1 (a secure context), in the
// headless Chromium that webgpu-backprop/testing finds, with WebGPU enabled.
import { defineConfig } from '@playwright/test';
import { playwrightPreset } from 'webgpu-backprop/testing';

const port = Number(process.env.PORT ?? 5391);
const { use, webServer } = await playwrightPreset({ port });

export default defineConfig({ testDir: 'e2e', use, webServer, reporter: [['list']] });
