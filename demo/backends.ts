// Opening the demo's two backends: WebGPU when the browser has it (else the reason why not) and the
// CPU reference, which is always there.
import { createBackend, type Backend, type BackendKind } from '../src/index';

/** The GPU adapter's name, as the WebGPU backend reports it (not part of the public Backend type). */
export const adapterOf = (b: Backend) => (b as Backend & { adapterName?: string }).adapterName ?? 'GPU adapter';

/**
 * Opens WebGPU with createBackend('auto') and the CPU backend. Matmul autotuning follows the library's
 * default (on) except on a software GPU (SwiftShader), where timing every kernel variant costs a
 * minute or more of shader compiles on the CPU, far more than it wins for networks this size;
 * `autotune=1` or `=0` in the page's query decides instead.
 */
export async function openBackends(
  query: string,
  onError: (e: Error) => void,
): Promise<{
  backends: Map<BackendKind, Backend>;
  /** Null when WebGPU works; otherwise why not. */
  webgpuUnavailable: string | null;
}> {
  const backends = new Map<BackendKind, Backend>();
  const asked = new URLSearchParams(query).get('autotune');
  const tuning = asked === null ? {} : { autotune: asked !== '0' };
  let reason: string | null = null;
  try {
    let auto = await createBackend('auto', { onError, ...tuning });
    if (asked === null && auto.kind === 'webgpu' && /swiftshader/i.test(adapterOf(auto))) {
      auto.destroy();
      auto = await createBackend('webgpu', { onError, autotune: false });
    }
    if (auto.kind === 'webgpu') backends.set('webgpu', auto);
    else reason = auto.fallbackReason ?? 'unknown reason';
    if (auto.kind === 'cpu') backends.set('cpu', auto);
  } catch (e) {
    reason = `opening the GPU device failed: ${(e as Error).message}`;
  }
  if (!backends.has('cpu')) backends.set('cpu', await createBackend('cpu'));
  return { backends, webgpuUnavailable: reason };
}
