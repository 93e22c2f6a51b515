// Backend ops on WebGPU against the CPU reference, with identical seeded inputs, compared in the page
// (shipping large arrays to the test process costs more than the op); and matmul with an explicit
// kernel variant, bypassing the backend's choice.
import * as WB from '../../../src/index';
import type { Backend, Matrix } from '../../../src/index';
import type { GpuBackend, GpuMatrix } from '../../../src/gpu/backend';
import { type Recording, recordingResources } from '../../../src/gpu/dispatch';
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
export interface MatmulForm {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: WB.Activation;
}

/**
 * A training epilogue instead of the forward store: dZ_prev = P ⊙ f'(Y) with Y from `y`; the SGD step
 * C −= rate · (P + decay · C) or the micro-batch sum C += P, C starting from `c`.
 */
export type FusedEpilogue =
  | { kind: 'grad'; activation: WB.Activation; y: InputSpec }
  | { kind: 'sgd'; rate: number; decay: number; c: InputSpec }
  | { kind: 'add'; c: InputSpec };

export const tileOf = (variant: string | MatmulTile): MatmulTile => {
  const tile = typeof variant === 'string' ? MATMUL_VARIANTS[variant] : variant;
  if (!tile) throw new Error(`harness: unknown matmul variant ${String(variant)}`);
  return tile;
};

const randOf = (s: InputSpec) => rand(s.rows * s.cols, s.seed, s.lo, s.hi);

/** The CPU reference of a fused epilogue applied to the product p (the CPU backend's ops where it has them). */
async function cpuEpilogue(cpu: WB.Backend, p: Float32Array, m: number, n: number, epi: FusedEpilogue) {
  if (epi.kind === 'grad') {
    const y = cpu.matrix(m, n, randOf(epi.y));
    const dy = cpu.matrix(m, n, p);
    return cpu.activationBackward(epi.activation, y, dy).read();
  }
  const c = randOf(epi.c);
  if (epi.kind === 'add') return c.map((w, i) => w + p[i]);
  return c.map((w, i) => w - epi.rate * (p[i] + epi.decay * w));
}

/**
 * matmul with one named variant (or an explicit tile) on the GPU, bypassing the backend's choice,
 * against the CPU backend. inputs: a, b and optionally the 1×N bias, stored as the form needs them;
 * `fused`: a training epilogue instead of the forward store. Returns, besides the comparison, which
 * kernel ran its last dispatch (a variant falls back on shapes or devices it does not take) and how many
 * dispatches it recorded.
 */
export async function matmulVariant(
  variant: string | MatmulTile,
  m: number,
  k: number,
  n: number,
  inputs: InputSpec[],
  form: MatmulForm,
  tol: Tolerance,
  fused?: FusedEpilogue,
) {
  const g = (await gpuBackend()) as GpuBackend;
  const ms = inputs.map((s) => g.matrix(s.rows, s.cols, randOf(s))) as GpuMatrix[];
  const start = fused && fused.kind !== 'grad' ? randOf(fused.c) : undefined;
  const c = g.ctx.storage(`matmul ${m}×${k}×${n}.c`, m * n, start);
  const y = fused?.kind === 'grad' ? g.ctx.storage('matmul.y', m * n, randOf(fused.y)) : undefined;
  const args = {
    a: ms[0].buffer,
    b: ms[1].buffer,
    bias: ms[2]?.buffer,
    c,
    m,
    n,
    k,
    ...form,
    ...(fused?.kind === 'grad' ? { derivativeOf: y, activation: fused.activation } : {}),
    ...(fused?.kind === 'sgd' ? { sgd: { rate: fused.rate, decay: fused.decay } } : {}),
    ...(fused?.kind === 'add' ? { add: true } : {}),
  };
  let d: Recording | undefined;
  let gpuOut: Float32Array;
  try {
    d = matmulRecording(g.ctx, c.label, args, tileOf(variant));
    g.ctx.submit('matmulVariant', [d]);
    gpuOut = await g.ctx.read(c, m * n);
  } finally {
    for (const r of [c, ...(y ? [y] : []), ...(d ? recordingResources(d) : [])]) g.ctx.release(r);
    for (const x of ms) x.dispose();
  }
  const main = d.dispatches[d.dispatches.length - 1].pipeline.label;
  const cpu = await WB.createBackend('cpu');
  const product = await runOp(cpu, 'matmul', inputs, fused ? { ...form, activation: undefined } : { ...form });
  const cpuOut = fused ? await cpuEpilogue(cpu, product, m, n, fused) : product;
  return {
    n: gpuOut.length,
    problem: allclose(gpuOut, cpuOut, tol),
    kernel: main.split('.')[0],
    swapped: main.includes('"TRANSPOSE_C":1'),
    dispatches: d.dispatches.length,
  };
}
