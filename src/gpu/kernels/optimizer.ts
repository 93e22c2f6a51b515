// Parameter update dispatches (shaders/optimizer.wgsl): SGD, momentum and Adam, one dispatch per tensor.
import { elementwiseGrid, type BindingKind, type Dispatch, type GpuContext } from '../context';

export type OptimizerKind = 'sgd' | 'momentum' | 'adam';

const OPTIMIZER_CODE: Record<OptimizerKind, number> = { sgd: 0, momentum: 1, adam: 2 };
const WG = 256;
const BINDINGS: BindingKind[] = ['storage', 'read', 'storage', 'storage', 'uniform'];

export interface OptimizerParams {
  learningRate: number;
  /** μ for momentum, β1 for Adam. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Adam's bias corrections 1 - β1^t and 1 - β2^t for the step about to run. */
  c1?: number;
  c2?: number;
}

/** The uniform block of optimizer.wgsl: {n, lr, beta1, beta2, epsilon, c1, c2}. */
export function optimizerParams(n: number, p: OptimizerParams): ArrayBuffer {
  const words = new ArrayBuffer(32);
  new Uint32Array(words, 0, 1)[0] = n;
  new Float32Array(words, 4, 6).set([p.learningRate, p.beta1 ?? 0, p.beta2 ?? 0, p.epsilon ?? 0, p.c1 ?? 1, p.c2 ?? 1]);
  return words;
}

/** Updates `param` in place from `grad`; s1/s2 are the optimizer's state (dummies where unused). */
export function optimizerDispatch(
  ctx: GpuContext, label: string, kind: OptimizerKind, param: GPUBuffer, grad: GPUBuffer, n: number,
  p: OptimizerParams, s1?: GPUBuffer, s2?: GPUBuffer,
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, optimizerParams(n, p));
  return {
    label,
    pipeline: ctx.pipeline('optimizer', 'main', BINDINGS, { WG, OPTIMIZER: OPTIMIZER_CODE[kind] }),
    bindGroup: ctx.bindGroup(label, BINDINGS, [param, grad, s1 ?? ctx.dummy('state1'), s2 ?? ctx.dummy('state2'), uniform]),
    workgroups: elementwiseGrid(n, WG),
    uniform,
  };
}
