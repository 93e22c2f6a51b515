// Runs in the test page. Exposes the library (window.WB) and helpers (window.T) to Playwright specs,
// and counts GPU buffers and bind groups independently of the library's own bookkeeping by wrapping
// the WebGPU prototypes before any device exists.
import * as WB from '../../src/index';
import type { Backend, Matrix } from '../../src/index';
import { allclose, type Tolerance } from '../allclose';
import { compileShader } from '../../src/gpu/shaders';
import { mulberry32 } from '../../src/random';
import { backendProperty, networkProperty } from './property';
import type { GpuBackend, GpuMatrix } from '../../src/gpu/backend';
import { DEFAULT_MATMUL_VARIANT, matmulDispatch, MATMUL_VARIANTS, type MatmulTile } from '../../src/gpu/kernels/matmul';
import { dispatchResources } from '../../src/gpu/context';

const live = new Set<GPUBuffer>();
const liveTextures = new Set<GPUTexture>();
const counters = { buffersCreated: 0, texturesCreated: 0, bindGroupsCreated: 0, mapAsyncCalls: 0 };
if (typeof GPUDevice !== 'undefined') {
  const createBuffer = GPUDevice.prototype.createBuffer;
  GPUDevice.prototype.createBuffer = function (this: GPUDevice, d: GPUBufferDescriptor) {
    const b = createBuffer.call(this, d);
    live.add(b);
    counters.buffersCreated++;
    return b;
  };
  const destroy = GPUBuffer.prototype.destroy;
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    live.delete(this);
    return destroy.call(this);
  };
  const createTexture = GPUDevice.prototype.createTexture;
  GPUDevice.prototype.createTexture = function (this: GPUDevice, d: GPUTextureDescriptor) {
    const t = createTexture.call(this, d);
    liveTextures.add(t);
    counters.texturesCreated++;
    return t;
  };
  const destroyTexture = GPUTexture.prototype.destroy;
  GPUTexture.prototype.destroy = function (this: GPUTexture) {
    liveTextures.delete(this);
    return destroyTexture.call(this);
  };
  const createBindGroup = GPUDevice.prototype.createBindGroup;
  GPUDevice.prototype.createBindGroup = function (this: GPUDevice, d: GPUBindGroupDescriptor) {
    counters.bindGroupsCreated++;
    return createBindGroup.call(this, d);
  };
  const mapAsync = GPUBuffer.prototype.mapAsync;
  GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
    counters.mapAsyncCalls++;
    return mapAsync.apply(this, args);
  };
}

/** Deterministic uniform values in [lo, hi) (the library's mulberry32). */
function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
}

export interface InputSpec {
  rows: number;
  cols: number;
  seed: number;
  lo?: number;
  hi?: number;
}

/** Runs one Backend op with the same inputs on `backend` and returns the result's values. */
async function runOp(
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

let gpu: Backend | undefined;
const gpuErrors: string[] = [];

/** The page's shared WebGPU backend; GPU errors it reports are collected for the specs to assert on. */
async function gpuBackend(): Promise<Backend> {
  // autotune off: parity specs test every variant explicitly, and timing candidates in every test's
  // fresh page would only add minutes; the autotuner has its own spec.
  gpu ??= await WB.createBackend('webgpu', { autotune: false, onError: (e) => gpuErrors.push(e.message) });
  return gpu;
}

interface MatmulForm {
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: WB.Activation;
}

/** Stored shapes of A and B for an M×K·K×N product in the given form. */
function matmulInputs(m: number, k: number, n: number, form: MatmulForm): { a: [number, number]; b: [number, number] } {
  return { a: form.transposeA ? [k, m] : [m, k], b: form.transposeB ? [n, k] : [k, n] };
}

const tileOf = (variant: string | MatmulTile): MatmulTile => {
  const tile = typeof variant === 'string' ? MATMUL_VARIANTS[variant] : variant;
  if (!tile) throw new Error(`harness: unknown matmul variant ${String(variant)}`);
  return tile;
};

/**
 * Runs matmulDispatch with an explicit variant (bypassing the backend's choice) on inputs already on
 * the GPU; returns the output buffer and its uniform for the caller to free.
 */
function dispatchMatmul(
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
  const d = matmulDispatch(g.ctx, c.label, { a: a.buffer, b: b.buffer, bias: bias?.buffer, c, m, n, k, ...form }, tile);
  return { c, d };
}

/** Targets in [0, 1) from a fixed random teacher, so every output is learnable. */
function dataset(rows: number, inputs: number, outputs: number, seed: number) {
  const x = rand(rows * inputs, seed);
  const y = rand(rows * outputs, seed + 1, 0, 1);
  return { x, y };
}

interface ParityArgs {
  spec: WB.NetworkSpec;
  steps: number;
  batch: number;
  mode: 'trainStep' | 'fit';
  lossTol: Tolerance;
  weightTol: Tolerance;
  /** A dedicated backend with these options instead of the page's shared one. */
  backendOptions?: WB.BackendOptions;
}

/**
 * Trains the same network (same seed) on WebGPU and on the CPU with the same batches and compares the
 * per-step (trainStep) or per-epoch (fit) losses and the final weights, in the page.
 */
async function networkParity({ spec, steps, batch, mode, lossTol, weightTol, backendOptions }: ParityArgs) {
  const own = backendOptions ? await WB.createBackend('webgpu', backendOptions) : undefined;
  const gpuNet = new WB.Network(own ?? (await gpuBackend()), spec);
  const cpuNet = new WB.Network(await WB.createBackend('cpu'), spec);
  const out = spec.layers[spec.layers.length - 1].units;
  const rows = mode === 'fit' ? batch * 5 + 3 : batch * 10; // fit: a ragged last batch
  const { x, y } = dataset(rows, spec.inputSize, out, 1234);
  const run = async (net: WB.Network) => {
    const losses: number[] = [];
    if (mode === 'fit') {
      const r = await net.fit(x, y, { epochs: steps, batchSize: batch, seed: 77 });
      losses.push(...r.loss);
    } else {
      for (let s = 0; s < steps; s++) {
        const b = s % (rows / batch);
        losses.push(
          await net.trainStep(
            x.subarray(b * batch * spec.inputSize, (b + 1) * batch * spec.inputSize),
            y.subarray(b * batch * out, (b + 1) * batch * out),
          ),
        );
      }
    }
    const w = await net.getWeights();
    return { losses, weights: w.flatMap((l) => [...l.weights, ...l.bias]) };
  };
  try {
    const g = await run(gpuNet);
    const c = await run(cpuNet);
    const initial = new WB.Network(await WB.createBackend('cpu'), spec);
    const w0 = (await initial.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
    let moved = 0;
    for (let i = 0; i < w0.length; i++) moved = Math.max(moved, Math.abs(c.weights[i] - w0[i]));
    return {
      lossProblem: allclose(g.losses, c.losses, lossTol),
      weightProblem: allclose(g.weights, c.weights, weightTol),
      losses: [g.losses[0], g.losses[g.losses.length - 1], c.losses[0], c.losses[c.losses.length - 1]],
      count: g.losses.length,
      moved,
    };
  } finally {
    gpuNet.destroy();
    cpuNet.destroy();
    own?.destroy();
  }
}

/** `perClass` points on each of `arms` spiral arms with Gaussian-ish noise; one-hot targets. */
function spiral(perClass: number, arms: number, noise: number, seed: number) {
  const r = rand(perClass * arms * 2, seed, -1, 1);
  const n = perClass * arms;
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n * arms);
  const labels = new Uint32Array(n);
  for (let c = 0; c < arms; c++) {
    for (let i = 0; i < perClass; i++) {
      const k = c * perClass + i;
      const t = i / perClass;
      const angle = (c * 2 * Math.PI) / arms + t * 1.75 * 2 * Math.PI;
      x[2 * k] = t * Math.cos(angle) + noise * r[2 * k] * t;
      x[2 * k + 1] = t * Math.sin(angle) + noise * r[2 * k + 1] * t;
      y[k * arms + c] = 1;
      labels[k] = c;
    }
  }
  return { x, y, labels };
}

/** Share of rows whose argmax matches the label. */
function accuracy(pred: Float32Array, labels: Uint32Array, classes: number): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (pred[i * classes + c] > pred[i * classes + best]) best = c;
    if (best === labels[i]) right++;
  }
  return right / labels.length;
}

const T = {
  rand,
  properties: { backendProperty, networkProperty },
  allclose,
  spiral,
  accuracy,
  dataset,
  networkParity,
  compileShader,
  counters,
  liveBuffers: () => live.size,
  liveTextures: () => liveTextures.size,
  liveLabels: () => [...live].map((b) => b.label),
  gpuBackend,
  gpuErrors,
  /** The matmul variants an autotuner may pick from, by name, and the one used without tuning. */
  matmulVariants: MATMUL_VARIANTS,
  matmulDefault: DEFAULT_MATMUL_VARIANT,
  /**
   * Runs op on the GPU and on the CPU reference with identical inputs and compares them here, in the
   * page (shipping large arrays to the test process costs more than the op). Returns the element count
   * and null, or the worst element's description.
   */
  async both(op: string, inputs: InputSpec[], extra: Record<string, unknown>, tol: Tolerance) {
    const g = await gpuBackend();
    const cpu = await WB.createBackend('cpu');
    const gpuOut = await runOp(g, op, inputs, extra);
    const cpuOut = await runOp(cpu, op, inputs, extra);
    return { n: gpuOut.length, problem: allclose(gpuOut, cpuOut, tol) };
  },
  /**
   * matmul with one named variant (or an explicit tile) on the GPU against the CPU backend's matmul.
   * inputs: a, b and optionally the 1×N bias, stored as the form needs them.
   */
  async matmulVariant(
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
    const kernel = d.pipeline.label.split('.')[0];
    const swapped = d.pipeline.label.includes('"TRANSPOSE_C":1');
    let gpuOut: Float32Array;
    try {
      g.ctx.submit('matmulVariant', [d]);
      gpuOut = await g.ctx.read(c, m * n);
    } finally {
      g.ctx.destroyBuffer(c);
      for (const r of dispatchResources(d)) g.ctx.release(r);
      for (const x of ms) x.dispose();
    }
    const cpu = await WB.createBackend('cpu');
    const cpuOut = await runOp(cpu, 'matmul', inputs, { ...form });
    return { n: gpuOut.length, problem: allclose(gpuOut, cpuOut, tol), kernel, swapped };
  },
  /**
   * Wall-clock milliseconds of `runs` warm matmuls (after `warmup` untimed ones), each one submit
   * followed by awaiting a read of the result's first elements, so the time covers the whole dispatch.
   */
  async timeMatmul(
    variant: string | MatmulTile,
    m: number,
    k: number,
    n: number,
    form: MatmulForm,
    runs = 3,
    warmup = 1,
  ) {
    const g = (await gpuBackend()) as GpuBackend;
    const shapes = matmulInputs(m, k, n, form);
    const ms = [shapes.a, shapes.b].map(([r, cols], i) => g.matrix(r, cols, rand(r * cols, i + 1)));
    const { c, d } = dispatchMatmul(g, tileOf(variant), ms, m, k, n, form);
    const times: number[] = [];
    try {
      for (let i = 0; i < warmup + runs; i++) {
        const t0 = performance.now();
        g.ctx.submit('timeMatmul', [d]);
        await g.ctx.read(c, Math.min(4, m * n));
        if (i >= warmup) times.push(performance.now() - t0);
      }
    } finally {
      g.ctx.destroyBuffer(c);
      for (const r of dispatchResources(d)) g.ctx.release(r);
      for (const x of ms) x.dispose();
    }
    return times;
  },
};

declare global {
  interface Window {
    WB: typeof WB;
    T: typeof T;
  }
}
window.WB = WB;
window.T = T;
document.title = 'harness ready';
