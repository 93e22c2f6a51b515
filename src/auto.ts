// createBackend('auto'): WebGPU or WebAssembly, whichever trains faster here. On first use it times one
// training step of a probe network on each (after warm-up steps, so kernel compiles and tuning do not
// count) and keeps the faster; the choice is cached in localStorage per adapter, browser and wasm set-up,
// and a cached entry that does not parse or names another set-up is ignored. With neither available it
// returns the CPU backend. The backend it returns says which it chose and why, in words (`choice`).
import { CpuBackend } from './cpu/backend';
import { WebGpuUnavailableError } from './errors';
import { GpuBackend } from './gpu/backend';
import { Network } from './network';
import { mulberry32 } from './random';
import { browserStorage } from './storage';
import type { Backend, BackendOptions } from './types';
import { WasmBackend } from './wasm/backend';

export const AUTO_CACHE_KEY = 'webgpu-backprop.auto.v1';

/** The probe: a few dense layers at a batch size where either backend has real work to do. */
const PROBE = { sizes: [512, 512, 512, 10], batch: 128, warmup: 2, timed: 3 };
const PROBE_NAME = `one training step of a ${PROBE.sizes.join('→')} network at batch ${PROBE.batch}`;

/** Median milliseconds of one trainStep of the probe network on `backend`. */
async function timeProbe(backend: Backend): Promise<number> {
  const [inputSize, ...units] = PROBE.sizes;
  const net = new Network(backend, {
    inputSize,
    layers: units.map((n, i) => ({ units: n, activation: i < units.length - 1 ? 'relu' : 'linear' })),
    optimizer: { type: 'sgd', learningRate: 1e-4 },
    seed: 1,
  });
  try {
    const next = mulberry32(7);
    const x = Float32Array.from({ length: PROBE.batch * inputSize }, () => next() - 0.5);
    const y = Float32Array.from({ length: PROBE.batch * units[units.length - 1] }, () => next());
    for (let i = 0; i < PROBE.warmup; i++) await net.trainStep(x, y);
    const times: number[] = [];
    for (let i = 0; i < PROBE.timed; i++) {
      const t0 = performance.now();
      await net.trainStep(x, y); // resolves with the step's loss: the step has finished
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[times.length >> 1];
  } finally {
    net.destroy();
  }
}

/** The part of the Web Storage API the cache uses. */
export type TimingStore = Pick<Storage, 'getItem' | 'setItem'>;

/** Timings saved for this identity, or undefined for none, another identity, or an entry that is not valid. */
export function readCachedTimings(store: TimingStore | undefined, identity: string) {
  try {
    const saved = JSON.parse(store?.getItem(AUTO_CACHE_KEY) ?? 'null') as Record<string, unknown> | null;
    const t = saved?.timings as { webgpu?: unknown; wasm?: unknown } | undefined;
    if (saved?.identity !== identity || typeof t?.webgpu !== 'number' || typeof t?.wasm !== 'number') return undefined;
    if (!(t.webgpu > 0 && t.wasm > 0 && Number.isFinite(t.webgpu) && Number.isFinite(t.wasm))) return undefined;
    return { webgpu: t.webgpu, wasm: t.wasm };
  } catch {
    return undefined; // not JSON, or storage refused: ignored, measured again
  }
}

export function cacheTimings(
  store: TimingStore | undefined,
  identity: string,
  timings: { webgpu: number; wasm: number },
) {
  try {
    store?.setItem(AUTO_CACHE_KEY, JSON.stringify({ identity, timings }));
  } catch {
    // Storage full or disabled: the choice is made again next time.
  }
}

const ms = (t: number) => `${t < 10 ? t.toFixed(2) : t.toFixed(1)} ms`;

/** Opens the faster of WebGPU and wasm (or what is available), as createBackend('auto') documents. */
export async function chooseBackend(options: BackendOptions): Promise<Backend> {
  let gpu: GpuBackend | undefined;
  let gpuMissing: string | undefined;
  // The probe runs the untuned default kernels: tuning every probe shape first would make the first
  // 'auto' take tens of seconds on a software adapter. A tuned WebGPU is what the user gets, though: if
  // WebGPU wins and tuning is wanted, a backend with the user's options replaces the probe's.
  const tuned = options.autotune !== false;
  try {
    gpu = await GpuBackend.create({ ...options, autotune: false });
  } catch (e) {
    if (!(e instanceof WebGpuUnavailableError)) throw e;
    gpuMissing = e.reason;
  }
  let wasm: WasmBackend | undefined;
  let wasmMissing: string | undefined;
  try {
    wasm = await WasmBackend.create(options);
  } catch (e) {
    // Options were checked before (backend.ts), so this is the environment: no SIMD, no memory to spare.
    wasmMissing = `WebAssembly SIMD is unavailable: ${(e as Error).message}`;
  }
  if (!gpu && !wasm) {
    const reason = `${gpuMissing}; and ${wasmMissing}`;
    return new CpuBackend(reason, options.memoryBudget, `cpu: ${reason}`);
  }
  if (gpu && tuned && !wasm) {
    gpu.destroy();
    gpu = await GpuBackend.create(options);
  }
  if (!gpu || !wasm) {
    const only = (gpu ?? wasm) as GpuBackend | WasmBackend;
    only.choice = gpu ? `webgpu: ${wasmMissing}` : `wasm: WebGPU is unavailable (${gpuMissing})`;
    if (wasm) wasm.fallbackReason = gpuMissing;
    return only;
  }
  const agent = globalThis.navigator?.userAgent ?? 'no browser';
  const simd = wasm.relaxedSimd ? 'relaxed SIMD' : 'SIMD';
  const identity = `${gpu.adapterName} | ${agent} | wasm ${wasm.threads} thread(s), ${simd}`;
  let timings = options.auto?.timings;
  let source = 'as given in options.auto.timings';
  if (!timings) {
    const cached = options.auto?.cache === false ? undefined : readCachedTimings(browserStorage(), identity);
    if (cached) [timings, source] = [cached, 'measured before on this adapter and browser (cached)'];
  }
  try {
    if (!timings) {
      timings = { webgpu: await timeProbe(gpu), wasm: await timeProbe(wasm) };
      source = 'measured now';
      if (options.auto?.cache !== false) cacheTimings(browserStorage(), identity, timings);
    }
  } catch (e) {
    gpu.destroy();
    wasm.destroy();
    throw e;
  }
  const wasmWins = timings.wasm < timings.webgpu;
  const why =
    `${PROBE_NAME} took ${ms(timings.wasm)} on wasm (${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}) and ` +
    `${ms(timings.webgpu)} on WebGPU (${gpu.adapterName}), ${source}`;
  (wasmWins ? gpu : wasm).destroy();
  if (!wasmWins && tuned) {
    gpu.destroy();
    gpu = await GpuBackend.create(options);
  }
  const chosen = wasmWins ? wasm : gpu;
  chosen.choice = `${wasmWins ? 'wasm' : 'webgpu'}: ${why}`;
  if (wasmWins) wasm.fallbackReason = `wasm is faster here: ${why}`;
  return chosen;
}
