// The in-page side of the testing preset: a WebGPU backend for a test, or an error that says why there
// is none and what to do. Runs in the browser (Vitest browser mode, a Playwright page). It imports the
// library by its package name, so that a user's tests and this helper share one copy of it (and its
// error classes); in this repository the name is an alias of src/index.ts.
import { type BackendOptions, createBackend, WebGpuUnavailableError, type WebGpuBackend } from 'webgpu-backprop';

/** What to do about a missing adapter, appended to every failure. */
const HOW =
  'Headless Chromium needs --enable-unsafe-webgpu, and the page must be served from http://127.0.0.1 or ' +
  'localhost (a secure context); the presets of webgpu-backprop/testing do both. Without a GPU, Chromium ' +
  'provides SwiftShader, a software adapter. To skip GPU tests on purpose, set WEBGPU_TESTS=skip.';

/** Why this page has no WebGPU adapter, or null when it has one (the backend is opened and closed). */
export async function webgpuMissing(options: BackendOptions = {}): Promise<string | null> {
  try {
    (await createBackend('webgpu', options)).destroy();
    return null;
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) return e.reason;
    throw e;
  }
}

/** A WebGPU backend for a test; without an adapter, an Error that says why and how to get one. */
export async function requireWebGpu(options: BackendOptions = {}): Promise<WebGpuBackend> {
  try {
    return await createBackend('webgpu', options);
  } catch (e) {
    if (!(e instanceof WebGpuUnavailableError)) throw e;
    throw new Error(`No WebGPU adapter in this browser: ${e.reason}. ${HOW}`);
  }
}
