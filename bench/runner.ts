// The benchmark's timing loop. Runs in the page (headless from `npm run bench`, or the interactive
// benchmark page) and returns measured times only: every figure in a report is computed from these times
// and the FLOP counts the cases (cases.ts) state.
import { createBackend, type Backend } from '../src/index';
import { GpuBackend } from '../src/gpu/backend';
import { WasmBackend } from '../src/wasm/backend';
import { type BenchCase, FIT_STEPS, matmulCase, selectCases } from './cases';
import type { BenchBackend, BenchConfig, BenchMeta, BenchResult, CaseResult, Stats } from './types';

function stats(times: number[]): Stats {
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], runs: sorted.length };
}

/** Times one case on one backend: warm-up runs, then timed runs until `reps` or the time budget. */
async function runCase(
  c: BenchCase,
  backend: Backend,
  label: BenchBackend,
  config: BenchConfig,
  cpuGflops: number,
): Promise<CaseResult> {
  const base = { id: c.id, group: c.group, name: c.name, backend: label, flops: c.flops };
  const perRun = c.group === 'fit' ? (FIT_STEPS[c.id] ?? 1) : 1;
  if (c.backends && !c.backends.includes(backend.kind)) {
    return { ...base, skipped: `only meaningful on ${c.backends.join(', ')}` };
  }
  if (backend.kind === 'cpu') {
    const estimate = (c.flops * perRun) / (cpuGflops * 1e9);
    if (estimate > config.cpuSkipSeconds) {
      return {
        ...base,
        skipped:
          `estimated ${estimate.toFixed(0)} s per run at the CPU's measured ${cpuGflops.toFixed(2)} GFLOP/s ` +
          `(limit ${config.cpuSkipSeconds} s)`,
      };
    }
  }
  const { run, split, dispose, variant } = await c.setup(backend);
  try {
    for (let i = 0; i < config.warmup; i++) await run();
    const times: number[] = [];
    const started = performance.now();
    while (
      times.length < config.reps &&
      (times.length < config.minReps || performance.now() - started < config.caseBudgetMs)
    ) {
      const t0 = performance.now();
      await run();
      times.push((performance.now() - t0) / perRun);
    }
    const s = stats(times);
    const result: CaseResult = { ...base, ms: s, gflops: c.flops / (s.median * 1e6), variant };
    if (c.samples) result.samplesPerSecond = c.samples / (s.median / 1000);
    if (c.group === 'fit') {
      const phases = split ? await split() : undefined;
      result.split = phases
        ? {
            ...phases,
            method: 'GPU timestamp queries around forward, backward and update passes; readback timed on the CPU',
          }
        : {
            method: !split
              ? 'not split for this case (whole-epoch timing only)'
              : backend.kind === 'webgpu'
                ? "whole-step timing only: the adapter has no 'timestamp-query'"
                : `not split on the ${backend.kind} backend (whole-step timing only)`,
          };
    }
    return result;
  } finally {
    dispose();
  }
}

/** Measures the CPU backend's matmul rate once, to predict which CPU cases would take too long. */
async function calibrateCpu(cpu: Backend): Promise<number> {
  const c = matmulCase(192, 192, 192, 'A·B', true);
  const { run, dispose } = await c.setup(cpu);
  await run();
  const t0 = performance.now();
  await run();
  dispose();
  return c.flops / ((performance.now() - t0) * 1e6);
}

export const DEFAULT_CONFIG: BenchConfig = {
  quick: false,
  backends: ['webgpu', 'wasm', 'wasm1', 'cpu'],
  warmup: 1,
  reps: 5,
  minReps: 3,
  caseBudgetMs: 20_000,
  cpuSkipSeconds: 30,
  autotune: true,
};

/** Runs the selected cases on the selected backends; `progress` hears about each case as it starts. */
export async function runBenchmark(
  partial: Partial<BenchConfig>,
  progress: (done: number, total: number, label: string) => void = () => {},
): Promise<BenchResult> {
  const config = { ...DEFAULT_CONFIG, ...partial };
  const cases = selectCases(config);
  const backends: Backend[] = [];
  let gpuInfo: BenchMeta['adapter'];
  let wasmInfo: BenchMeta['wasm'];
  const labels = new Map<Backend, BenchBackend>();
  for (const kind of config.backends) {
    const b =
      kind === 'wasm1'
        ? await createBackend('wasm', { threads: 1 })
        : await createBackend(kind, kind === 'webgpu' ? { autotune: config.autotune } : {});
    backends.push(b);
    labels.set(b, kind);
    if (b instanceof GpuBackend) {
      const l = b.ctx.limits;
      gpuInfo = {
        name: b.adapterName,
        features: [...b.ctx.device.features].sort(),
        limits: {
          maxBufferSize: l.maxBufferSize,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
        traits: b.ctx.traits,
      };
    }
    if (b instanceof WasmBackend && kind === 'wasm')
      wasmInfo = { threads: b.threads, threadsReason: b.threadsReason, relaxedSimd: b.relaxedSimd };
  }
  const cpu = backends.find((b) => b.kind === 'cpu');
  const cpuGflops = cpu ? await calibrateCpu(cpu) : 0;
  const results: CaseResult[] = [];
  // One thread of wasm is measured on the matmuls and the big fit step only (what the one-core figures
  // are about); elsewhere it would double the wasm time and say little more.
  const wanted = (c: BenchCase, label: BenchBackend) =>
    label !== 'wasm1' || c.group === 'matmul' || c.id === 'fit-784-1024-1024-10';
  const labelOf = (b: Backend) => labels.get(b) ?? b.kind;
  const total = cases.reduce((n, c) => n + backends.filter((b) => wanted(c, labelOf(b))).length, 0);
  let done = 0;
  for (const c of cases) {
    for (const b of backends) {
      const label = labelOf(b);
      if (!wanted(c, label)) continue;
      progress(done, total, `${c.name} on ${label}`);
      results.push(await runCase(c, b, label, config, cpuGflops));
      done++;
    }
  }
  progress(done, total, 'done');
  for (const b of backends) b.destroy();
  return {
    meta: {
      date: new Date().toISOString(),
      userAgent: navigator.userAgent,
      adapter: gpuInfo,
      wasm: wasmInfo,
      cpuCalibrationGflops: cpuGflops,
      config,
      method:
        `Each case: ${config.warmup} warm-up run(s), then up to ${config.reps} timed runs ` +
        `(at least ${config.minReps}, ` +
        `more while under ${config.caseBudgetMs / 1000} s); the median is reported with min and max. ` +
        'Work is finished before the timer stops: WebGPU matmul and layer runs await queue.onSubmittedWorkDone(), ' +
        "wasm ones the engine's run of their last op (runs execute in order); a fit " +
        'run is one fit() epoch, which ends with its loss readback (mapAsync), divided by its number of steps. ' +
        'GFLOP/s = stated FLOPs / median time. The phase split of a fit step comes from GPU timestamp queries ' +
        'where the ' +
        'adapter offers them. CPU cases predicted (from a 192³ matmul calibration) to take longer than ' +
        `${config.cpuSkipSeconds} s per run are skipped and marked so.`,
    },
    results,
  };
}
