// activation / activationBackward dispatches (shaders/activation.wgsl).
import type { Activation } from '../../types';
import type { GpuContext } from '../context';
import { type BindingKind, type Dispatch, elementwiseGrid } from '../dispatch';

/** The ACTIVATION override value for each activation (ACT_* in activation_fns.wgsl). */
export const ACTIVATION_CODE: Record<Activation, number> = {
  linear: 0,
  relu: 1,
  sigmoid: 2,
  tanh: 3,
  // Row-wise, not elementwise: a matmul stores the logits (linear) and softmax.wgsl runs after.
  softmax: 0,
};

const WG = 256;
const FORWARD: BindingKind[] = ['read', 'storage', 'uniform'];
const BACKWARD: BindingKind[] = ['read', 'read', 'storage', 'uniform'];

/** y = f(x) over n elements. */
export function activationDispatch(
  ctx: GpuContext,
  label: string,
  kind: Activation,
  x: GPUBuffer,
  y: GPUBuffer,
  n: number,
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, Uint32Array.of(n, 0, 0, 0).buffer);
  return {
    label,
    pipeline: ctx.pipeline('activation', 'forward', FORWARD, { WG, ACTIVATION: ACTIVATION_CODE[kind] }),
    bindGroup: ctx.bindGroup(label, FORWARD, [x, y, uniform]),
    workgroups: elementwiseGrid(n, WG),
    uniform,
  };
}

/** dx = dy ⊙ f'(y) over n elements. */
export function activationBackwardDispatch(
  ctx: GpuContext,
  label: string,
  kind: Activation,
  y: GPUBuffer,
  dy: GPUBuffer,
  dx: GPUBuffer,
  n: number,
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, Uint32Array.of(n, 0, 0, 0).buffer);
  return {
    label,
    pipeline: ctx.pipeline('activation', 'backward', BACKWARD, { WG, ACTIVATION: ACTIVATION_CODE[kind] }),
    bindGroup: ctx.bindGroup(label, BACKWARD, [y, dy, dx, uniform]),
    workgroups: elementwiseGrid(n, WG),
    uniform,
  };
}
