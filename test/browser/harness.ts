// Runs in the test page. Exposes the library (window.WB) and helpers (window.T) to Playwright specs,
// and counts GPU buffers and bind groups independently of the library's own bookkeeping by wrapping
// the WebGPU prototypes before any device exists.
import * as WB from '../../src/index';
import type { Backend, Matrix } from '../../src/index';
import { allclose, type Tolerance } from '../allclose';
import { compileShader } from '../../src/gpu/shaders';

const live = new Set<GPUBuffer>();
const counters = { buffersCreated: 0, bindGroupsCreated: 0, mapAsyncCalls: 0 };
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

/** Deterministic uniform values in [lo, hi) (mulberry32). */
function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

export interface InputSpec { rows: number; cols: number; seed: number; lo?: number; hi?: number }

/** Runs one Backend op with the same inputs on `backend` and returns the result's values. */
async function runOp(backend: Backend, op: string, inputs: InputSpec[], extra: Record<string, unknown>): Promise<Float32Array> {
  const ms: Matrix[] = inputs.map((s) => backend.matrix(s.rows, s.cols, rand(s.rows * s.cols, s.seed, s.lo, s.hi)));
  try {
    const kind = extra.kind as WB.Activation;
    switch (op) {
      case 'matmul': {
        const out = backend.matmul(ms[0], ms[1], { ...extra, bias: ms[2] });
        try { return await out.read(); } finally { out.dispose(); }
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
        try { return await out.read(); } finally { out.dispose(); }
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
  gpu ??= await WB.createBackend('webgpu', { onError: (e) => gpuErrors.push(e.message) });
  return gpu;
}

const T = {
  rand,
  compileShader,
  counters,
  liveBuffers: () => live.size,
  gpuBackend,
  gpuErrors,
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
};

declare global {
  interface Window { WB: typeof WB; T: typeof T }
}
window.WB = WB;
window.T = T;
document.title = 'harness ready';
