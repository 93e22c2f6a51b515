// Batch gather dispatch (shaders/gather.wgsl): rows of the resident data set picked by a permutation.
import type { GpuContext } from '../context';
import { type BindingKind, type Dispatch, elementwiseGrid } from '../dispatch';

const WG = 256;
const BINDINGS: BindingKind[] = ['read', 'read', 'storage', 'uniform', 'uniform'];

/** out = src[idx[offset .. offset+rows)] row by row; `batch` is the uniform holding {offset}. */
export function gatherDispatch(
  ctx: GpuContext,
  label: string,
  src: GPUBuffer,
  idx: GPUBuffer,
  out: GPUBuffer,
  batch: GPUBuffer,
  rows: number,
  cols: number,
): Dispatch {
  const uniform = ctx.uniform(`${label}.params`, Uint32Array.of(rows, cols, 0, 0).buffer);
  return {
    label,
    pipeline: ctx.pipeline('gather', 'main', BINDINGS, { WG }),
    bindGroup: ctx.bindGroup(label, BINDINGS, [src, idx, out, uniform, batch]),
    workgroups: elementwiseGrid(rows * cols, WG),
    uniform,
  };
}
