// Loads the engine's kernels: picks the build of src/wasm/assembly this JavaScript engine can run and
// compiles it once per page (or process). Relaxed SIMD is detected by validating the relaxed build
// itself, so no separate feature probe can disagree with what actually loads.
import variants from './assembly/index.ts?asc';

export interface Kernels {
  module: WebAssembly.Module;
  /** Built with relaxed SIMD: the GEMM multiply-add is one fused instruction. */
  relaxedSimd: boolean;
}

/** The exports of an instance of the kernels. */
export interface KernelExports {
  run(ctrl: number, tid: number, threads: number): void;
  heapBase(): number;
}

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const cache = new Map<boolean, Promise<Kernels>>();

/** The kernels for a shared memory (threads) or an unshared one. */
export function loadKernels(shared: boolean): Promise<Kernels> {
  let kernels = cache.get(shared);
  if (!kernels) {
    const relaxed = decode(shared ? variants.relaxedShared : variants.relaxedUnshared);
    const relaxedSimd = WebAssembly.validate(relaxed);
    const bytes = relaxedSimd ? relaxed : decode(shared ? variants.plainShared : variants.plainUnshared);
    kernels = WebAssembly.compile(bytes).then((module) => ({ module, relaxedSimd }));
    // A failed compile is not cached: the next engine tries again.
    kernels.catch(() => cache.delete(shared));
    cache.set(shared, kernels);
  }
  return kernels;
}

/** Instantiates the kernels on `memory` (synchronously: the module is small and already compiled). */
export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
