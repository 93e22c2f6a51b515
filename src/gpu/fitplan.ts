// How a fit() on WebGPU uses memory: whether the training set stays resident in one buffer per tensor,
// is sharded over several (larger than one binding), or is streamed from host memory batch by batch
// (over the memory budget, or asked for); and whether batches are split into micro-batches whose
// gradients are summed (a batch's buffers over one binding or the budget, or asked for). Pure
// arithmetic over sizes, so it can be planned (and tested) before anything is allocated.
import { GpuMemoryError } from '../errors';
import type { DataMode, FitPlan, FitPlanRequest } from '../trainer';
import { paddedBytes } from './dispatch';
import { type LayerShape, workspaceBuffers } from './workspace';

/** Upload ring slots of a streamed fit: one being filled, one being copied, one spare. */
export const STREAM_RING = 3;

/** Room kept for what the plan does not count one by one: uniforms, packed textures, readbacks. */
function margin(batchBytes: number): number {
  return 64 * 1024 + Math.ceil(batchBytes / 20);
}

export interface GpuFitContext {
  layers: LayerShape[];
  /** Bytes of the parameters, their gradients and optimizer state as allocated now. */
  parameterBytes: number;
  /** Bytes of the dW buffers a split batch needs that the network does not hold yet (SGD fuses them away). */
  missingWeightGradBytes: number;
  bindingLimit: number;
  maxBufferSize: number;
  memoryBudget: number;
  /** A softmax output with cross-entropy (its loss keeps two values per row). */
  classify: boolean;
  /** Bytes in use on the device that stay during the fit (everything but this trainer's training buffers). */
  otherBytes: number;
}

export interface GpuFitPlan extends FitPlan {
  /** Rows per shard of the x and y buffers (sharded or resident). */
  shardRows: { x: number; y: number };
}

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The most rows of `width` f32 values one binding holds. */
function rowsPerBinding(width: number, limit: number): number {
  return Math.floor((Math.floor(limit / 16) * 4) / width);
}

/**
 * Whether one training step of `rows` rows runs whole with the batch written straight into the
 * workspace (trainStep): its buffers each fit one binding and together fit the budget. No margin: the
 * allocation itself still checks, and names what failed.
 */
export function wholeBatchFits(c: GpuFitContext, rows: number): boolean {
  const counts = Object.values(workspaceBuffers(c.layers, rows, true, c.classify));
  const bytes = counts.reduce((s, n) => s + paddedBytes(n), 0);
  return (
    counts.every((n) => paddedBytes(n) <= c.bindingLimit) && c.otherBytes + c.parameterBytes + bytes <= c.memoryBudget
  );
}

export function planGpuFit(c: GpuFitContext, request: FitPlanRequest): GpuFitPlan {
  const { samples, batchSize } = request;
  const inSize = c.layers[0].inSize;
  const out = c.layers[c.layers.length - 1].units;
  const batch = Math.min(batchSize, samples);
  const bindable = (count: number) => paddedBytes(count) <= c.bindingLimit;
  const xShard = Math.min(samples, rowsPerBinding(inSize, c.bindingLimit));
  const yShard = Math.min(samples, rowsPerBinding(out, c.bindingLimit));
  const dataBytes = (mode: DataMode): number | undefined => {
    if (mode === 'streamed') {
      const slot = batch * (inSize + out) * 4;
      return slot <= c.maxBufferSize ? STREAM_RING * slot : undefined;
    }
    if (!bindable(samples) || xShard < 1 || yShard < 1) return undefined; // the order buffer, one row each
    if (mode === 'resident' && (xShard < samples || yShard < samples)) return undefined;
    if (mode === 'sharded' && xShard === samples && yShard === samples) return undefined;
    const shards = (rows: number, width: number) =>
      Array.from({ length: Math.ceil(samples / rows) }, (_, i) =>
        paddedBytes(Math.min(rows, samples - i * rows) * width),
      );
    const bytes = [...shards(xShard, inSize), ...shards(yShard, out), paddedBytes(samples)];
    return bytes.reduce((s, b) => s + b, 0);
  };
  const available = c.memoryBudget - c.otherBytes;
  const modes: DataMode[] = request.stream ? ['streamed'] : ['resident', 'sharded', 'streamed'];
  let tightest = Infinity;
  for (
    let micro = Math.min(request.microBatchSize ?? batch, batch);
    micro >= 1;
    micro = micro > 1 ? Math.ceil(micro / 2) : 0
  ) {
    const roles = Object.values(workspaceBuffers(c.layers, micro, true, c.classify));
    if (!roles.every(bindable)) continue;
    const batchBytes = roles.reduce((s, n) => s + paddedBytes(n), 0) + (micro < batch ? c.missingWeightGradBytes : 0);
    for (const mode of modes) {
      const data = dataBytes(mode);
      if (data === undefined) continue;
      const total = c.parameterBytes + batchBytes + data;
      tightest = Math.min(tightest, total + margin(batchBytes));
      if (total + margin(batchBytes) > available) continue;
      return {
        mode,
        samples,
        batchSize: batch,
        microBatchSize: micro,
        shards: mode === 'streamed' ? 0 : Math.max(Math.ceil(samples / xShard), Math.ceil(samples / yShard)),
        bytes: { parameters: c.parameterBytes, batch: batchBytes, data, total },
        limits: { maxStorageBufferBindingSize: c.bindingLimit, memoryBudget: c.memoryBudget },
        shardRows: { x: xShard, y: yShard },
        reason: reason(mode, micro, batch, request),
      };
    }
  }
  throw new GpuMemoryError(
    `fit: ${samples} samples in batches of ${batch} do not fit: even one row at a time, streamed, needs ` +
      `${Number.isFinite(tightest) ? MiB(tightest) : 'a buffer larger than one binding'} of GPU memory with ` +
      `${MiB(Math.max(0, available))} available under the memoryBudget; nothing was allocated`,
  );
}

function reason(mode: DataMode, micro: number, batch: number, request: FitPlanRequest): string {
  const data = {
    resident: 'the training set fits one binding per tensor and the memory budget',
    sharded: 'the training set fits the memory budget but not one binding, so it is split over several buffers',
    streamed: request.stream
      ? 'streaming was asked for: the training set stays in host memory and each batch is uploaded'
      : 'the training set is over the memory budget: it stays in host memory and each batch is uploaded',
  }[mode];
  if (micro === batch) return `${data}; batches of ${batch} rows run whole`;
  const why =
    request.microBatchSize !== undefined && micro === request.microBatchSize
      ? 'as asked'
      : "because a whole batch's buffers exceed one binding or the budget";
  return (
    `${data}; each batch of ${batch} rows runs as micro-batches of ${micro} rows, ${why}, with their gradients ` +
    'summed before one update'
  );
}
