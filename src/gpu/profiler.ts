// The benchmark's view into a WebGPU training step: the step with its phases in separate passes, timed
// by GPU timestamp queries. Allocates its query objects, so it is not for the training loop.
import type { PhaseTimes } from '../trainer';
import { encodeDispatch, type Dispatch } from './dispatch';
import type { StepHost } from './fit';

/**
 * One training step on x, y: forward (with the loss), backward (with the loss gradient) and update in
 * three passes, each timed on the GPU, then the loss readback, timed on the CPU. undefined where the
 * adapter has no 'timestamp-query'.
 */
export async function profileStep(
  host: StepHost,
  update: Dispatch[],
  stepLoss: GPUBuffer,
  x: Float32Array,
  y: Float32Array,
  rows: number,
): Promise<PhaseTimes | undefined> {
  const { ctx } = host;
  const device = ctx.device;
  if (!device.features.has('timestamp-query')) return undefined;
  const key = { rows, batchRows: rows, add: false };
  const ws = await host.prepare(true, rows, [key]);
  const plan = host.plan(ws, key);
  device.queue.writeBuffer(ws.acts[0], 0, x.buffer, x.byteOffset, x.byteLength);
  device.queue.writeBuffer(ws.target, 0, y.buffer, y.byteOffset, y.byteLength);
  const querySet = device.createQuerySet({ label: 'profile.timestamps', type: 'timestamp', count: 6 });
  const resolved = ctx.createBuffer('profile.resolve', 48, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
  const staging = ctx.createBuffer('profile.readback', 64, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  try {
    const encoder = device.createCommandEncoder({ label: 'profileStep' });
    const phases = [[...plan.forward, plan.lossPartial, plan.lossMean as Dispatch], plan.backward, update];
    phases.forEach((dispatches, i) => {
      const pass = encoder.beginComputePass({
        label: `profile.phase${i}`,
        timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
      for (const d of dispatches) encodeDispatch(pass, d);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, 6, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, 48);
    encoder.copyBufferToBuffer(stepLoss, 0, staging, 48, 16);
    host.submitStep(encoder);
    await device.queue.onSubmittedWorkDone();
    const t0 = performance.now();
    await host.readStaging(staging, 16);
    const readbackMs = performance.now() - t0;
    await staging.mapAsync(GPUMapMode.READ);
    const ns = new BigUint64Array(staging.getMappedRange(0, 48).slice(0));
    staging.unmap();
    const ms = (i: number) => Number(ns[2 * i + 1] - ns[2 * i]) / 1e6;
    return { forwardMs: ms(0), backwardMs: ms(1), updateMs: ms(2), readbackMs };
  } finally {
    querySet.destroy();
    ctx.release(resolved);
    ctx.release(staging);
  }
}
