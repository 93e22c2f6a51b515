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
  /** Decoupled weight decay, for the dispatches made with decay. */
  weightDecay?: number;
}

/** The `hyper` uniform block of optimizer.wgsl. */
export function hyperWords(h: Hyper): Float32Array {
  const { learningRate, beta1 = 0, beta2 = 0, epsilon = 0, c1 = 1, c2 = 1, weightDecay = 0 } = h;
  return Float32Array.of(learningRate, beta1, beta2, epsilon, c1, c2, weightDecay, 0);
}

/** One tensor's update: `param` (n values) from `grad`, with the optimizer's state tensors (none for SGD). */
export interface UpdateArgs {
  param: GPUBuffer;
  grad: GPUBuffer;
  n: number;
  state: GPUBuffer[];
  /** Apply the decoupled weight decay (weights, not biases). */
  decay: boolean;
}

/**
 * Updates `param` in place from `grad`; `hyper` is a uniform buffer holding hyperWords(), shared by the
 * dispatches of a network and rewritten when its values change. Unused state bindings get dummies.
 */
export function optimizerDispatch(
  ctx: GpuContext,
  label: string,
  kind: OptimizerKind,
  hyper: GPUBuffer,
  { param, grad, n, state, decay }: UpdateArgs,
): Dispatch {
  const uniform = ctx.uniform(`${label}.size`, Uint32Array.of(n, 0, 0, 0).buffer);
  const [s1 = ctx.dummy('state1'), s2 = ctx.dummy('state2')] = state;
  const constants = { WG, OPTIMIZER: OPTIMIZER_CODE[kind], DECAY: Number(decay) };
  return {
    label,
    pipeline: ctx.pipeline('optimizer', 'main', BINDINGS, constants),
    bindGroup: ctx.bindGroup(label, BINDINGS, [param, grad, s1, s2, uniform, hyper]),
    workgroups: elementwiseGrid(n, WG),
    uniform,
  };
}
