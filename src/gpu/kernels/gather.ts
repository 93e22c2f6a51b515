// Batch gather dispatch (shaders/gather.wgsl): rows of a data set on the GPU picked by a permutation.
import type { GpuContext } from '../context';
import { type BindingKind, type Dispatch, elementwiseGrid } from '../dispatch';

const WG = 256;
const BINDINGS: BindingKind[] = ['read', 'read', 'storage', 'uniform', 'uniform'];

/** Rows shardStart .. shardStart+shardRows of the data set, held in `buffer`. */
export interface Shard {
  buffer: GPUBuffer;
  start: number;
  rows: number;
}

/**
 * out = the rows idx[offset + first + i] of the data set, i < rows, that lie in `shard`; `batch` is the
 * uniform holding {offset}, `first` the micro-batch's first row within the batch.
 */
export function gatherDispatch(
  ctx: GpuContext,
  label: string,
  shard: Shard,
  idx: GPUBuffer,
  out: GPUBuffer,
  batch: GPUBuffer,
  rows: number,
  cols: number,
  first = 0,
): Dispatch {
  const words = Uint32Array.of(rows, cols, first, shard.start, shard.rows, 0, 0, 0);
  const uniform = ctx.uniform(`${label}.params`, words.buffer);
  return {
    label,
    pipeline: ctx.pipeline('gather', 'main', BINDINGS, { WG }),
    bindGroup: ctx.bindGroup(label, BINDINGS, [shard.buffer, idx, out, uniform, batch]),
    workgroups: elementwiseGrid(rows * cols, WG),
    uniform,
  };
}
