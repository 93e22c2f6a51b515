// predict() and evaluate() on WebGPU: the forward pass over any number of rows in chunks that fit one
// binding and the memory budget, on the trainer's inference workspace. predict reads each chunk's
// outputs back through one reused staging buffer; evaluate sums the loss on the GPU and reads it once.
import type { Loss, Metrics } from '../trainer';
import type { PlanKey } from './fit';
import type { GpuContext } from './context';
import { type Dispatch, encodeDispatch, paddedBytes } from './dispatch';
import type { Plan } from './plan';
import { type LayerShape, type Workspace, workspaceBuffers } from './workspace';

/** Rows per chunk unless a binding or the budget asks for fewer. */
const INFER_CHUNK = 4096;

/** What inference needs from its trainer (GpuTrainer implements it). */
export interface InferenceHost {
  readonly ctx: GpuContext;
  readonly layers: LayerShape[];
  readonly inSize: number;
  readonly outUnits: number;
  readonly loss: Loss;
  lossCount(rows: number): number;
  /** Bytes of the current inference workspace (replaced when a bigger one is needed). */
  readonly inferenceBytes: number;
  prepare(training: boolean, rows: number, plans: PlanKey[]): Promise<Workspace>;
  plan(ws: Workspace, key: PlanKey): Plan;
  readStaging(staging: GPUBuffer, count: number): Promise<Float32Array>;
}

/** The most rows per chunk whose workspace fits one binding and the budget. */
export function inferenceChunk(host: InferenceHost, rows: number): number {
  const { ctx } = host;
  const available = ctx.memoryBudget - (ctx.bytesInUse - host.inferenceBytes);
  for (let chunk = Math.min(rows, INFER_CHUNK); chunk >= 1; chunk = chunk > 1 ? Math.ceil(chunk / 2) : 0) {
    const counts = Object.values(workspaceBuffers(host.layers, chunk, false, host.loss === 'crossEntropy'));
    // predict's two staging buffers (see predict) on top of the workspace.
    const bytes = counts.reduce((s, n) => s + paddedBytes(n), 0) + 2 * paddedBytes(chunk * host.outUnits);
    if (counts.every((n) => paddedBytes(n) <= ctx.bindingLimit) && bytes <= available) return chunk;
  }
  return 1; // and let the allocation say why not
}

const write = (ctx: GpuContext, buffer: GPUBuffer, data: Float32Array) =>
  ctx.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);

/** Runs the forward pass chunk by chunk; `loss` adds each chunk's summed loss to the accumulator. */
async function forwardChunks(
  host: InferenceHost,
  x: Float32Array,
  y: Float32Array | undefined,
  rows: number,
  chunk: number,
  each: (encoder: GPUCommandEncoder, ws: Workspace, start: number, n: number) => Promise<void> | void,
): Promise<void> {
  const { ctx, inSize, outUnits: out } = host;
  const keys = [...new Set([chunk, rows % chunk || chunk])].map((n) => ({ rows: n, batchRows: n, add: false }));
  const ws = await host.prepare(false, chunk, keys);
  for (let start = 0; start < rows; start += chunk) {
    const n = Math.min(chunk, rows - start);
    const plan = host.plan(ws, { rows: n, batchRows: n, add: false });
    write(ctx, ws.acts[0], x.subarray(start * inSize, (start + n) * inSize));
    if (y) write(ctx, ws.target, y.subarray(start * out, (start + n) * out));
    const encoder = ctx.device.createCommandEncoder({ label: 'infer.chunk' });
    if (y && start === 0) {
      encoder.clearBuffer(ws.accumulator);
      if (ws.correct) encoder.clearBuffer(ws.correct);
    }
    const pass = encoder.beginComputePass({ label: 'infer.forward' });
    // With targets, the loss (a softmax output's probabilities come with it); without, just the outputs.
    const after: Dispatch[] = y
      ? [plan.lossPartial, plan.lossAccumulate, ...(plan.correctAccumulate ? [plan.correctAccumulate] : [])]
      : plan.outputs;
    for (const d of [...plan.forward, ...after]) encodeDispatch(pass, d);
    pass.end();
    await each(encoder, ws, start, n);
  }
}

async function withStaging<T>(ctx: GpuContext, label: string, bytes: number, run: (s: GPUBuffer) => Promise<T>) {
  const staging = ctx.createBuffer(label, bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  try {
    return await run(staging);
  } finally {
    ctx.release(staging);
  }
}

export async function predict(host: InferenceHost, x: Float32Array, rows: number): Promise<Float32Array> {
  const { ctx, outUnits: out } = host;
  const result = new Float32Array(rows * out);
  const chunk = inferenceChunk(host, rows);
  const bytes = paddedBytes(chunk * out);
  // Two staging buffers in turn: a chunk is submitted before the last one's readback is awaited, so the
  // GPU computes while the host maps and copies.
  return withStaging(ctx, 'predict.readback0', bytes, (s0) =>
    withStaging(ctx, 'predict.readback1', bytes, async (s1) => {
      let reading: Promise<void> | undefined;
      let i = 0;
      try {
        await forwardChunks(host, x, undefined, rows, chunk, async (encoder, ws, start, n) => {
          const staging = i++ % 2 ? s1 : s0;
          encoder.copyBufferToBuffer(ws.acts[ws.acts.length - 1], 0, staging, 0, n * out * 4);
          ctx.device.queue.submit([encoder.finish()]);
          await reading; // the other staging buffer's: free again once this resolves
          reading = host.readStaging(staging, n * out).then((v) => result.set(v, start * out));
        });
        await reading;
      } finally {
        await reading?.catch(() => {}); // not left mapped, nor its rejection unheard, when a chunk fails
      }
      return result;
    }),
  );
}

/** The mean loss over all rows, and for classification the share of rows answered right; one readback. */
export async function evaluate(host: InferenceHost, x: Float32Array, y: Float32Array, rows: number): Promise<Metrics> {
  const { ctx } = host;
  const chunk = inferenceChunk(host, rows);
  return withStaging(ctx, 'evaluate.readback', 32, async (staging) => {
    let classify = false;
    await forwardChunks(host, x, y, rows, chunk, (encoder, ws, start, n) => {
      if (start + n === rows) {
        encoder.copyBufferToBuffer(ws.accumulator, 0, staging, 0, 16);
        if (ws.correct) encoder.copyBufferToBuffer(ws.correct, 0, staging, 16, 16);
        classify = ws.correct !== undefined;
      }
      ctx.device.queue.submit([encoder.finish()]);
    });
    const [sum, , , , right] = await host.readStaging(staging, 5);
    const loss = sum / host.lossCount(rows);
    return classify ? { loss, accuracy: right / rows } : { loss };
  });
}
