// webgpu-backprop/testing: headless WebGPU tests of your own models, in Node-side configuration — which
// browser (and why), its flags, Playwright and Vitest browser-mode presets. The in-page helpers
// (requireWebGpu, webgpuMissing) are in webgpu-backprop/testing/page (page.ts). See README, "Testing your models
// headless".
export {
  type ChromiumSource,
  ChromiumNotFoundError,
  type ResolveChromiumOptions,
  type ResolvedChromium,
  resolveChromium,
  WEBGPU_CHROMIUM_ARGS,
} from './browser';
export {
  type PlaywrightPresetOptions,
  type PresetOptions,
  playwrightPreset,
  vitestBrowserPreset,
  webgpuTestsDefine,
} from './presets';
