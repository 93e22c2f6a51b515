// createBackend: opens a backend by kind. Each backend is a folder of its own that implements the
// Backend API and creates its own trainer; adding one means one more case here. 'auto' measures
// (auto.ts).
import { chooseBackend } from './auto';
import { CpuBackend } from './cpu/backend';
import { GpuBackend } from './gpu/backend';
import type { Backend, BackendKind, BackendOptions, WasmBackend, WebGpuBackend } from './types';
import { fail } from './validate';
import { WasmBackend as Wasm } from './wasm/backend';

function checkOptions(options: BackendOptions): void {
  if (typeof options !== 'object' || options === null) fail('createBackend', 'options', options, 'expected an object');
  for (const name of ['memoryBudget', 'maxStorageBufferBindingSize'] as const) {
    const v = options[name];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0))) {
      fail('createBackend', `options.${name}`, v, 'expected a number of bytes > 0');
    }
  }
  const t = options.threads;
  if (t !== undefined && (!Number.isInteger(t) || t < 1 || t > 256)) {
    fail('createBackend', 'options.threads', t, 'expected an integer from 1 to 256');
  }
  const auto = options.auto;
  if (auto !== undefined && (typeof auto !== 'object' || auto === null)) {
    fail('createBackend', 'options.auto', auto, 'expected an object');
  }
  const timings = auto?.timings;
  const valid = (t: unknown) => typeof t === 'number' && t > 0 && Number.isFinite(t);
  if (
    timings !== undefined &&
    !(typeof timings === 'object' && timings !== null && valid(timings.webgpu) && valid(timings.wasm))
  ) {
    fail('createBackend', 'options.auto.timings', timings, 'expected { webgpu, wasm }, finite milliseconds > 0');
  }
}

/**
 * Opens a backend: 'webgpu' (rejects with WebGpuUnavailableError, saying why, without a usable adapter),
 * 'wasm' (WebAssembly SIMD, multithreaded where the page is cross-origin isolated), 'cpu' (the plain-loop
 * reference), or 'auto': WebGPU or wasm, whichever trains faster here (measured once per adapter and
 * browser, then cached), the available one if only one is, else the CPU; `choice` says which and why.
 */
export function createBackend(kind: 'webgpu', options?: BackendOptions): Promise<WebGpuBackend>;
export function createBackend(kind: 'wasm', options?: BackendOptions): Promise<WasmBackend>;
export function createBackend(kind: BackendKind | 'auto', options?: BackendOptions): Promise<Backend>;
export async function createBackend(kind: BackendKind | 'auto', options: BackendOptions = {}): Promise<Backend> {
  checkOptions(options);
  switch (kind) {
    case 'cpu':
      return new CpuBackend(undefined, options.memoryBudget);
    case 'webgpu':
      return GpuBackend.create(options);
    case 'wasm':
      return Wasm.create(options);
    case 'auto':
      return chooseBackend(options);
    default:
      return fail('createBackend', 'kind', kind, "expected 'webgpu', 'wasm', 'cpu' or 'auto'");
  }
}
