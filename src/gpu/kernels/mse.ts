// MSE loss and gradient dispatches (shaders/mse.wgsl).
// The loss is a two-pass reduction: `partial` has up to MAX_PARTS workgroups each sum a strided share of
// the squared errors, then `finish` sums those partial sums in one workgroup.
import type { Activation } from '../../types';
import type { GpuContext } from '../context';
import { assertPowerOfTwo, type BindingKind, type Dispatch, elementwiseGrid } from '../dispatch';
import { ACTIVATION_CODE } from './activation';

const WG = assertPowerOfTwo('mse WG', 256); // the tree reductions halve it
const MAX_PARTS = 256;
const PARTIAL: BindingKind[] = ['read', 'read', 'storage', 'uniform'];
const FINISH: BindingKind[] = ['read', 'storage', 'uniform'];

function params(n: number, nParts: number, scale: number, first = 0): ArrayBuffer {
  const words = new ArrayBuffer(16);
  new Uint32Array(words, 0, 2).set([n, nParts]);
  new Float32Array(words, 8, 1)[0] = scale;
  new Uint32Array(words, 12, 1)[0] = first;
  return words;
}

/** Number of partial sums the loss reduction uses for n elements (size of the `parts` buffer). */
export function msePartCount(n: number): number {
  return Math.min(MAX_PARTS, Math.ceil(n / WG));
}

/** parts[w] = partial sums of (p - t)² over n elements; `parts` must hold msePartCount(n) floats. */
export function msePartialDispatch(
  ctx: GpuContext,
  label: string,
  p: GPUBuffer,
  t: GPUBuffer,
  parts: GPUBuffer,
  n: number,
): Dispatch {
  const nParts = msePartCount(n);
  const uniform = ctx.uniform(`${label}.params`, params(n, nParts, 1));
  return {
    label,
    pipeline: ctx.pipeline('mse', 'partial', PARTIAL, { WG }),
    bindGroup: ctx.bindGroup(label, PARTIAL, [p, t, parts, uniform]),
    workgroups: [nParts, 1, 1],
    uniform,
  };
}

/**
 * loss[0] = scale · Σ parts (or loss[0] += … with accumulate): scale 1/n gives the mean over n
 * elements, scale 1 the sum of squared errors (fit and evaluate add those up and divide once).
 */
export function mseFinishDispatch(
  ctx: GpuContext,
  label: string,
  parts: GPUBuffer,
  loss: GPUBuffer,
  n: number,
  scale: number,
  accumulate: boolean,
): Dispatch {
  return sumDispatch(ctx, label, parts, 0, msePartCount(n), loss, scale, accumulate);
}

/** out[0] = scale · Σ values[first .. first + count) (or out[0] += … with accumulate), in one workgroup. */
export function sumDispatch(
  ctx: GpuContext,
  label: string,
  values: GPUBuffer,
  first: number,
  count: number,
  out: GPUBuffer,
  scale: number,
  accumulate: boolean,
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, params(count, count, scale, first));
  return {
    label,
    pipeline: ctx.pipeline('mse', 'finish', FINISH, { WG, ACCUMULATE: Number(accumulate) }),
    bindGroup: ctx.bindGroup(label, FINISH, [values, out, uniform]),
    workgroups: [1, 1, 1],
    uniform,
  };
}

/**
 * g = 2 (p - t) / total ⊙ f'(p) over n elements: the MSE gradient, already multiplied by the output
 * activation's derivative (with 'linear' it is plain mseGrad). `total` is the element count the mean
 * runs over: n, or a whole batch's count when these n elements are one micro-batch of it.
 */
export function mseGradDispatch(
  ctx: GpuContext,
  label: string,
  p: GPUBuffer,
  t: GPUBuffer,
  g: GPUBuffer,
  n: number,
  activation: Activation = 'linear',
  total = n,
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, params(n, 0, 2 / total));
  return {
    label,
    pipeline: ctx.pipeline('mse', 'grad', PARTIAL, { WG, ACTIVATION: ACTIVATION_CODE[activation] }),
    bindGroup: ctx.bindGroup(label, PARTIAL, [p, t, g, uniform]),
    workgroups: elementwiseGrid(n, WG),
    uniform,
  };
}
