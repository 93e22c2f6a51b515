// The WebGPU fit planner is arithmetic over sizes: which mode and micro-batch size it picks for given
// limits, checked here without a GPU.
import { describe, expect, it } from 'vitest';
import { GpuMemoryError } from '../../src/index';
import { type GpuFitContext, planGpuFit, STREAM_RING, wholeBatchFits } from '../../src/gpu/fitplan';

const MiB = 2 ** 20;

/** 1000 → 32 → 4, whole layers, parameters of 1 MiB, nothing else on the device. */
function context(overrides: Partial<GpuFitContext> = {}): GpuFitContext {
  return {
    layers: [
      { inSize: 1000, units: 32, blocks: [{ cols: 32 }] },
      { inSize: 32, units: 4, blocks: [{ cols: 4 }] },
    ],
    parameterBytes: MiB,
    missingWeightGradBytes: 0,
    bindingLimit: 128 * MiB,
    maxBufferSize: 256 * MiB,
    memoryBudget: Infinity,
    classify: false,
    otherBytes: 0,
    ...overrides,
  };
}

describe('planGpuFit', () => {
  it('keeps a training set that fits resident, batches whole', () => {
    const p = planGpuFit(context(), { samples: 600, batchSize: 64 });
    expect(p).toMatchObject({ mode: 'resident', shards: 1, microBatchSize: 64, batchSize: 64 });
    expect(p.bytes.data).toBe(600 * 1000 * 4 + 600 * 4 * 4 + 600 * 4);
    expect(p.bytes.total).toBe(p.bytes.parameters + p.bytes.batch + p.bytes.data);
  });

  it('shards a set over one binding: rows per shard fill the binding', () => {
    const p = planGpuFit(context({ bindingLimit: MiB }), { samples: 600, batchSize: 64 });
    expect(p.mode).toBe('sharded');
    expect(p.shards).toBe(3); // 262 rows of 1000 floats per MiB
    expect(p.shardRows.x).toBe(262);
  });

  it('streams a set over the budget, and says so', () => {
    const p = planGpuFit(context({ memoryBudget: 3 * MiB }), { samples: 600, batchSize: 64 });
    expect(p.mode).toBe('streamed');
    expect(p.shards).toBe(0);
    expect(p.bytes.data).toBe(STREAM_RING * 64 * 1004 * 4);
    expect(p.reason).toMatch(/over the memory budget/);
  });

  it('streams when asked even where it would fit', () => {
    expect(planGpuFit(context(), { samples: 600, batchSize: 64, stream: true }).mode).toBe('streamed');
  });

  it('splits a batch whose buffers exceed a binding, counting the dW buffers a split needs', () => {
    const c = context({
      layers: [
        { inSize: 16, units: 2048, blocks: [{ cols: 2048 }] },
        { inSize: 2048, units: 4, blocks: [{ cols: 4 }] },
      ],
      bindingLimit: 256 * 1024,
      missingWeightGradBytes: 160 * 1024,
    });
    const p = planGpuFit(c, { samples: 256, batchSize: 128 });
    expect(p.microBatchSize).toBe(32);
    expect(p.bytes.batch).toBeGreaterThan(160 * 1024);
    expect(p.reason).toMatch(/micro-batches of 32 rows, because/);
    expect(wholeBatchFits(c, 128)).toBe(false);
    expect(wholeBatchFits(c, 32)).toBe(true);
  });

  it('honours microBatchSize, and never more than the batch', () => {
    expect(planGpuFit(context(), { samples: 600, batchSize: 64, microBatchSize: 16 }).microBatchSize).toBe(16);
    expect(planGpuFit(context(), { samples: 600, batchSize: 64, microBatchSize: 640 }).microBatchSize).toBe(64);
    expect(planGpuFit(context(), { samples: 50, batchSize: 64 }).batchSize).toBe(50);
  });

  it('throws GpuMemoryError with the numbers when nothing fits', () => {
    const plan = () => planGpuFit(context({ memoryBudget: MiB }), { samples: 600, batchSize: 64 });
    expect(plan).toThrow(GpuMemoryError);
    expect(plan).toThrow(/even one row at a time, streamed, needs 1\.8 MiB of GPU memory with 1\.0 MiB available/);
    expect(plan).toThrow(/nothing was allocated$/);
  });
});
