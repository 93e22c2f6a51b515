// Opening the demo's backends: WebGPU when the browser has it (else the reason why not), the
// WebAssembly backend (threads where the page is cross-origin isolated: Vite serves the headers), the
// CPU reference, which is always there, and 'auto' on request, which picks WebGPU or wasm by measuring.
import { type Backend, type BackendKind, createBackend } from '../src/index';

/** The backend choices of the demo's selector: the library's kinds, and 'auto'. */
export type BackendChoice = BackendKind | 'auto';

/** The GPU adapter's name, as the WebGPU backend reports it (not part of the public Backend type). */
export const adapterOf = (b: Backend) => (b as Backend & { adapterName?: string }).adapterName ?? 'GPU adapter';

/**
 * Opens WebGPU, wasm and the CPU backend. Matmul autotuning follows the library's default (on) except on
 * a software GPU (SwiftShader), where timing every kernel variant costs a minute or more of shader
 * compiles on the CPU, far more than it wins for networks this size; `autotune=1` or `=0` in the page's
 * query decides instead.
 */
export async function openBackends(
  query: string,
  onError: (e: Error) => void,
): Promise<{
  backends: Map<BackendChoice, Backend>;
  /** Null when WebGPU works; otherwise why not. */
  webgpuUnavailable: string | null;
}> {
  const backends = new Map<BackendChoice, Backend>();
  const asked = new URLSearchParams(query).get('autotune');
  let reason: string | null = null;
  try {
    let gpu = await createBackend('webgpu', { onError, ...(asked === null ? {} : { autotune: asked !== '0' }) });
    if (asked === null && /swiftshader/i.test(gpu.adapterName)) {
      gpu.destroy();
      gpu = await createBackend('webgpu', { onError, autotune: false });
    }
    backends.set('webgpu', gpu);
  } catch (e) {
    reason = (e as { reason?: string }).reason ?? `opening the GPU device failed: ${(e as Error).message}`;
  }
  try {
    backends.set('wasm', await createBackend('wasm'));
  } catch (e) {
    onError(e as Error);
  }
  backends.set('cpu', await createBackend('cpu'));
  return { backends, webgpuUnavailable: reason };
}

/** 'auto': WebGPU or wasm, as createBackend('auto') measures them here (cached after the first time). */
export async function openAuto(onError: (e: Error) => void): Promise<Backend> {
  return createBackend('auto', { onError, autotune: false });
}

/** How a backend is named in the page. */
export function backendName(b: Backend): string {
  if (b.kind === 'webgpu') return 'WebGPU';
  if (b.kind === 'wasm') return 'WebAssembly';
  return 'the CPU reference';
}

/** The header's line about the backend the network is on (or will be, before there is one). */
export function deviceLine(backend: Backend | undefined, webgpuUnavailable: string | null): string {
  let text: string;
  if (backend?.kind === 'webgpu') {
    const adapter = adapterOf(backend);
    // SwiftShader is Chromium's software GPU: WebGPU works, but its shaders run on the CPU.
    text = `Backend: WebGPU · ${adapter}${/swiftshader/i.test(adapter) ? ' (a software GPU)' : ''}`;
  } else if (backend?.kind === 'wasm') {
    const wasm = backend as Backend & { threads: number; relaxedSimd: boolean };
    const simd = wasm.relaxedSimd ? 'relaxed SIMD' : 'SIMD';
    text = `Backend: WebAssembly ${simd} · ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}`;
  } else {
    text = 'Backend: CPU reference (JavaScript)';
  }
  if (backend?.choice) return `${text} · auto: ${backend.choice}`;
  return webgpuUnavailable ? `${text} · WebGPU unavailable` : text;
}
