// biasGrad dispatch (shaders/bias_grad.wgsl): column sums of an M×N matrix into 1×N (or added to it).
import type { GpuContext } from '../context';
import { assertPowerOfTwo, type BindingKind, type Dispatch } from '../dispatch';

const WG_COLS = 32;
const WG_ROWS = assertPowerOfTwo('bias_grad WG_ROWS', 8); // the tree reduction halves it
const BINDINGS: BindingKind[] = ['read', 'storage', 'uniform'];

export function biasGradDispatch(
  ctx: GpuContext,
  label: string,
  dz: GPUBuffer,
  db: GPUBuffer,
  m: number,
  n: number,
  accumulate = false,
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, Uint32Array.of(m, n, 0, 0).buffer);
  return {
    label,
    pipeline: ctx.pipeline('bias_grad', 'main', BINDINGS, { WG_COLS, WG_ROWS, ACCUMULATE: Number(accumulate) }),
    bindGroup: ctx.bindGroup(label, BINDINGS, [dz, db, uniform]),
    workgroups: [Math.ceil(n / WG_COLS), 1, 1],
    uniform,
  };
}
