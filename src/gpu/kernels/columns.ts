// Strided column copies (shaders/columns.wgsl) for layers split into column blocks.
import type { GpuContext } from '../context';
import { type BindingKind, type Dispatch, elementwiseGrid } from '../dispatch';

const WG = 256;
const BINDINGS: BindingKind[] = ['read', 'storage', 'uniform'];

export interface Region {
  buffer: GPUBuffer;
  stride: number;
  offset: number;
}

/** dst region = src region (or += with add), rows × cols f32 values. */
export function columnsDispatch(
  ctx: GpuContext,
  label: string,
  src: Region,
  dst: Region,
  rows: number,
  cols: number,
  add = false,
): Dispatch {
  const uniform = ctx.uniform(
    `${label}.params`,
    Uint32Array.of(rows, cols, src.stride, src.offset, dst.stride, dst.offset, 0, 0).buffer,
  );
  return {
    label,
    pipeline: ctx.pipeline('columns', 'main', BINDINGS, { WG, ADD: Number(add) }),
    bindGroup: ctx.bindGroup(label, BINDINGS, [src.buffer, dst.buffer, uniform]),
    workgroups: elementwiseGrid(rows * cols, WG),
    uniform,
  };
}
