// Parameter update dispatches (shaders/optimizer.wgsl): SGD, momentum and Adam, one dispatch per tensor.
import type { GpuContext } from '../context';
import { type BindingKind, type Dispatch, elementwiseGrid } from '../dispatch';

export type OptimizerKind = 'sgd' | 'momentum' | 'adam';

const OPTIMIZER_CODE: Record<OptimizerKind, number> = { sgd: 0, momentum: 1, adam: 2 };
const WG = 256;
const BINDINGS: BindingKind[] = ['storage', 'read', 'storage', 'storage', 'uniform', 'uniform'];

export interface Hyper {
  learningRate: number;
  /** μ for momentum, β1 for Adam. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Adam's bias corrections 1 - β1^t and 1 - β2^t for the step about to run. */
  c1?: number;
  c2?: number;
}

/** The `hyper` uniform block of optimizer.wgsl. */
export function hyperWords(h: Hyper): Float32Array {
  return Float32Array.of(h.learningRate, h.beta1 ?? 0, h.beta2 ?? 0, h.epsilon ?? 0, h.c1 ?? 1, h.c2 ?? 1, 0, 0);
}

/**
 * Updates `param` (n values) in place from `grad`; s1/s2 are the optimizer's state (dummies where
 * unused); `hyper` is a uniform buffer holding hyperWords(), possibly shared between dispatches.
 */
export function optimizerDispatch(
  ctx: GpuContext,
  label: string,
  kind: OptimizerKind,
  param: GPUBuffer,
  grad: GPUBuffer,
  n: number,
  hyper: GPUBuffer,
  s1?: GPUBuffer,
  s2?: GPUBuffer,
): Dispatch {
  const uniform = ctx.uniform(`${label}.size`, Uint32Array.of(n, 0, 0, 0).buffer);
  return {
    label,
    pipeline: ctx.pipeline('optimizer', 'main', BINDINGS, { WG, OPTIMIZER: OPTIMIZER_CODE[kind] }),
    bindGroup: ctx.bindGroup(label, BINDINGS, [
      param,
      grad,
      s1 ?? ctx.dummy('state1'),
      s2 ?? ctx.dummy('state2'),
      uniform,
      hyper,
    ]),
    workgroups: elementwiseGrid(n, WG),
    uniform,
  };
}
