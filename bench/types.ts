// Shapes of benchmark configuration and results, shared by the page, the runner and the report.
import type { AdapterTraits } from '../src/gpu/traits';

/** The backends a benchmark can run: 'wasm1' is the wasm backend held to one thread. */
export type BenchBackend = 'webgpu' | 'wasm' | 'wasm1' | 'cpu';

export interface BenchConfig {
  quick: boolean;
  /** Comma-separated substrings of case ids (e.g. "matmul-ab,fit-784"); all cases when absent. */
  cases?: string;
  /** 'wasm1' is the wasm backend on one thread. */
  backends: BenchBackend[];
  warmup: number;
  reps: number;
  minReps: number;
  caseBudgetMs: number;
  cpuSkipSeconds: number;
  /** Let the WebGPU backend time matmul variants per shape class (default true). */
  autotune: boolean;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export interface CaseResult {
  id: string;
  group: 'matmul' | 'layer' | 'fit';
  name: string;
  backend: BenchBackend;
  /** FLOPs of one run (one step for fit cases). */
  flops: number;
  /** Milliseconds per run (per step for fit cases). */
  ms?: Stats;
  gflops?: number;
  samplesPerSecond?: number;
  /** WebGPU: the matmul variant(s) the autotuner chose. */
  variant?: string;
  split?: { forwardMs?: number; backwardMs?: number; updateMs?: number; readbackMs?: number; method: string };
  /** Why the case did not run on this backend. */
  skipped?: string;
}

export interface BenchMeta {
  date: string;
  userAgent: string;
  browserVersion?: string;
  /**
   * The WebGPU adapter: its name, features and limits, and the traits the matmul policy goes by
   * (src/gpu/traits.ts), so a report from another GPU says what its defaults and candidates were.
   */
  adapter?: { name: string; features: string[]; limits: Record<string, number>; traits?: AdapterTraits };
  /** The wasm backend's threads (and why that many) and instruction set. */
  wasm?: { threads: number; threadsReason: string; relaxedSimd: boolean };
  cpuCalibrationGflops: number;
  config: BenchConfig;
  method: string;
}

export interface BenchResult {
  meta: BenchMeta;
  results: CaseResult[];
}
