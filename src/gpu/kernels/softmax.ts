// softmax, its backward pass, and cross-entropy fused with its gradient (shaders/softmax.wgsl): one
// invocation per row.
import type { GpuContext } from '../context';
import { type BindingKind, type Dispatch, elementwiseGrid } from '../dispatch';

const WG = 64;
const FORWARD: BindingKind[] = ['storage', 'uniform'];
const BACKWARD: BindingKind[] = ['read', 'read', 'storage', 'uniform'];
const CROSS_ENTROPY: BindingKind[] = ['storage', 'read', 'storage', 'storage', 'uniform'];

function params(rows: number, cols: number, scale = 0): ArrayBuffer {
  const words = Uint32Array.of(rows, cols, 0, 0);
  new Float32Array(words.buffer)[2] = scale;
  return words.buffer;
}

/** z = softmax(z) row by row, in place (rows × cols). */
export function softmaxDispatch(ctx: GpuContext, label: string, z: GPUBuffer, rows: number, cols: number): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, params(rows, cols));
  return {
    label,
    pipeline: ctx.pipeline('softmax', 'forward', FORWARD, { WG }),
    bindGroup: ctx.bindGroup(label, FORWARD, [z, uniform]),
    workgroups: elementwiseGrid(rows, WG),
    uniform,
  };
}

/** dx = y ⊙ (dy − Σ_row dy ⊙ y): the softmax's Jacobian product, row by row. */
export function softmaxBackwardDispatch(
  ctx: GpuContext,
  label: string,
  y: GPUBuffer,
  dy: GPUBuffer,
  dx: GPUBuffer,
  rows: number,
  cols: number,
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, params(rows, cols));
  return {
    label,
    pipeline: ctx.pipeline('softmax', 'backward', BACKWARD, { WG }),
    bindGroup: ctx.bindGroup(label, BACKWARD, [y, dy, dx, uniform]),
    workgroups: elementwiseGrid(rows, WG),
    uniform,
  };
}

/**
 * From the logits in z (replaced by the softmax P): stats[r] = row r's cross-entropy against t,
 * stats[rows + r] = 1 where its argmax is right; with dz, dz = (P − t) / batchRows, the gradient at the
 * logits. `stats` holds 2 · rows floats.
 */
export function crossEntropyDispatch(
  ctx: GpuContext,
  label: string,
  z: GPUBuffer,
  t: GPUBuffer,
  stats: GPUBuffer,
  rows: number,
  cols: number,
  grad?: { dz: GPUBuffer; batchRows: number },
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, params(rows, cols, grad ? 1 / grad.batchRows : 0));
  return {
    label,
    pipeline: ctx.pipeline('softmax', 'crossEntropy', CROSS_ENTROPY, { WG, GRAD: Number(grad !== undefined) }),
    bindGroup: ctx.bindGroup(label, CROSS_ENTROPY, [z, t, grad?.dz ?? ctx.dummy('bias'), stats, uniform]),
    workgroups: elementwiseGrid(rows, WG),
    uniform,
  };
}
