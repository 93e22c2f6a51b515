// Backend ops on WebGPU against the CPU reference, with identical seeded inputs, compared in the page
// (shipping large arrays to the test process costs more than the op); and matmul with an explicit
// kernel variant, bypassing the backend's choice.
import * as WB from '../../../src/index';
import type { Backend, Matrix } from '../../../src/index';
import type { GpuBackend, GpuMatrix } from '../../../src/gpu/backend';
import { recordingResources } from '../../../src/gpu/dispatch';
import { matmulRecording } from '../../../src/gpu/kernels/matmul';
import type { MatmulTile } from '../../../src/gpu/kernels/matmul_args';
import { subgroupMatmulRuns } from '../../../src/gpu/kernels/matmul_sg';
import { MATMUL_VARIANTS } from '../../../src/gpu/matmul_variants';
import { allclose, type Tolerance } from '../../allclose';
import { rand } from './data';

export interface InputSpec {
  rows: number;
  cols: number;
  seed: number;
  lo?: number;
  hi?: number;
}

let gpu: WB.WebGpuBackend | undefined;
export const gpuErrors: string[] = [];

/** The page's shared WebGPU backend; GPU errors it reports are collected for the specs to assert on. */
export async function gpuBackend(): Promise<WB.WebGpuBackend> {
  // autotune off: parity specs test every variant explicitly, and timing candidates in every test's
  // fresh page would only add minutes; the autotuner has its own spec.
  gpu ??= await WB.createBackend('webgpu', { autotune: false, onError: (e) => gpuErrors.push(e.message) });
  return gpu;
}

let wasm: WB.WasmBackend | undefined;
/** The page's shared WebAssembly backend (as many threads as the browser reports cores). */
export async function wasmBackend(): Promise<WB.WasmBackend> {
  wasm ??= await WB.createBackend('wasm');
  return wasm;
}

/** Which backend the op and network parity helpers run against the CPU reference (set per test). */
export const underTest: { on: 'webgpu' | 'wasm' } = { on: 'webgpu' };
export const backendUnderTest = (): Promise<Backend> => (underTest.on === 'wasm' ? wasmBackend() : gpuBackend());

/** Whether the page's device runs the subgroup matmul (4-wide subgroups, as on SwiftShader). */
export async function subgroupMatmul(): Promise<boolean> {
  return subgroupMatmulRuns(((await gpuBackend()) as GpuBackend).ctx);
}

/** Runs one Backend op with the same inputs on `backend` and returns the result's values. */
export async function runOp(
  backend: Backend,
  op: string,
  inputs: InputSpec[],
  extra: Record<string, unknown>,
): Promise<Float32Array> {
  const ms: Matrix[] = inputs.map((s) => backend.matrix(s.rows, s.cols, rand(s.rows * s.cols, s.seed, s.lo, s.hi)));
  try {
    const kind = extra.kind as WB.Activation;
    switch (op) {
      case 'matmul': {
        const out = backend.matmul(ms[0], ms[1], { ...extra, bias: ms[2] });
        try {
          return await out.read();
        } finally {
          out.dispose();
        }
      }
      case 'sgdUpdate':
        backend.sgdUpdate(ms[0], ms[1], extra.learningRate as number);
        return await ms[0].read();
      default: {
        const f = {
          activation: () => backend.activation(kind, ms[0]),
          activationBackward: () => backend.activationBackward(kind, ms[0], ms[1]),
          biasGrad: () => backend.biasGrad(ms[0]),
          mseLoss: () => backend.mseLoss(ms[0], ms[1]),
          mseGrad: () => backend.mseGrad(ms[0], ms[1]),
          crossEntropyLoss: () => backend.crossEntropyLoss(ms[0], ms[1]),
          crossEntropyGrad: () => backend.crossEntropyGrad(ms[0], ms[1]),
        }[op];
        if (!f) throw new Error(`harness: unknown op ${op}`);
        const out = f();
        try {
          return await out.read();
        } finally {
          out.dispose();
        }
      }
    }
  } finally {
    for (const m of ms) m.dispose();
  }
}

export interface MatmulForm {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: WB.Activation;
}

export const tileOf = (variant: string | MatmulTile): MatmulTile => {
  const tile = typeof variant === 'string' ? MATMUL_VARIANTS[variant] : variant;
  if (!tile) throw new Error(`harness: unknown matmul variant ${String(variant)}`);
  return tile;
};

/**
 * Runs matmulDispatch with an explicit variant (bypassing the backend's choice) on inputs already on
 * the GPU; returns the output buffer and its uniform for the caller to free.
 */
export function dispatchMatmul(
  g: GpuBackend,
  tile: MatmulTile,
  ms: Matrix[],
  m: number,
  k: number,
  n: number,
  form: MatmulForm,
) {
  const c = g.ctx.storage(`matmul ${m}×${k}×${n}.c`, m * n);
  const [a, b, bias] = ms as GpuMatrix[];
  const d = matmulRecording(
    g.ctx,
    c.label,
    { a: a.buffer, b: b.buffer, bias: bias?.buffer, c, m, n, k, ...form },
    tile,
  );
  return { c, d };
}

/**
 * Runs op on the backend under test (WebGPU or wasm) and on the CPU reference with identical inputs and
 * compares them here, in the page (shipping large arrays to the test process costs more than the op).
 * Returns the element count and null, or the worst element's description.
 */
export async function both(op: string, inputs: InputSpec[], extra: Record<string, unknown>, tol: Tolerance) {
  const g = await backendUnderTest();
  const cpu = await WB.createBackend('cpu');
  const gpuOut = await runOp(g, op, inputs, extra);
  const cpuOut = await runOp(cpu, op, inputs, extra);
  return { n: gpuOut.length, problem: allclose(gpuOut, cpuOut, tol) };
}
/**
 * matmul with one named variant (or an explicit tile) on the GPU against the CPU backend's matmul.
 * inputs: a, b and optionally the 1×N bias, stored as the form needs them.
 */
export async function matmulVariant(
  variant: string | MatmulTile,
  m: number,
  k: number,
  n: number,
  inputs: InputSpec[],
  form: MatmulForm,
  tol: Tolerance,
) {
  const g = (await gpuBackend()) as GpuBackend;
  const ms = inputs.map((s) => g.matrix(s.rows, s.cols, rand(s.rows * s.cols, s.seed, s.lo, s.hi)));
  const { c, d } = dispatchMatmul(g, tileOf(variant), ms, m, k, n, form);
  // Which kernel ran: a variant falls back to the default on shapes or devices it does not take.
  const main = d.dispatches[d.dispatches.length - 1].pipeline.label;
  const kernel = main.split('.')[0];
  const swapped = main.includes('"TRANSPOSE_C":1');
  let gpuOut: Float32Array;
  try {
    g.ctx.submit('matmulVariant', [d]);
    gpuOut = await g.ctx.read(c, m * n);
  } finally {
    g.ctx.release(c);
    for (const r of recordingResources(d)) g.ctx.release(r);
    for (const x of ms) x.dispose();
  }
  const cpu = await WB.createBackend('cpu');
  const cpuOut = await runOp(cpu, 'matmul', inputs, { ...form });
  return { n: gpuOut.length, problem: allclose(gpuOut, cpuOut, tol), kernel, swapped };
}
