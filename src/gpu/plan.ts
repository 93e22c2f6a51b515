// The recorded dispatches of one training (or inference) step for one batch size, over a workspace:
// forward, loss, backward. Built once per batch size and encoded every step. A whole layer's path reads
// like DESIGN.md's math; a layer split into column blocks (params.ts) takes its own path below.
import type { Loss } from '../trainer';
import type { MatmulTuner } from './autotune';
import type { GpuContext } from './context';
import { type Dispatch, type GpuResource, type Recording, recording, recordingResources } from './dispatch';
import { activationBackwardDispatch } from './kernels/activation';
import { biasGradDispatch } from './kernels/bias_grad';
import { columnsDispatch } from './kernels/columns';
import { matmulRecording } from './kernels/matmul';
import { type MatmulArgs, type MatmulShape, type MatmulTile, shapeOf } from './kernels/matmul_args';
import { mseGradDispatch, msePartCount, msePartialDispatch, sumDispatch } from './kernels/mse';
import { crossEntropyDispatch, softmaxDispatch } from './kernels/softmax';
import type { GpuLayer } from './params';
import type { SplitScratch, Workspace } from './workspace';

export interface Plan {
  /** Every layer's matmul (with bias and activation); a softmax output's leaves the logits. */
  forward: Dispatch[];
  /** predict only: the softmax of a softmax output's logits (none otherwise). */
  outputs: Dispatch[];
  /** The loss's first pass: partial sums (mse), or per-row cross-entropy, softmax and, training, dZ_L. */
  lossPartial: Dispatch;
  /** Adds the batch's summed loss to the workspace's accumulator. */
  lossAccumulate: Dispatch;
  /** Classification: adds the rows answered right to the workspace's correct count (evaluate). */
  correctAccumulate?: Dispatch;
  /** Training only: the batch's mean loss into the trainer's step-loss buffer, and the backward pass. */
  lossMean?: Dispatch;
  backward: Dispatch[];
  /** The SGD steps fused into dW matmuls, whose params carry the learning rate. */
  sgdMatmuls: Recording[];
  /** Everything the plan made (uniforms, packed textures): freed with it. */
  resources: GpuResource[];
}

export interface PlanInputs {
  ctx: GpuContext;
  /** The matmul tile to use for a shape, its form and epilogue (the tuner's choice). */
  tileFor: (shape: MatmulShape) => MatmulTile;
  layers: GpuLayer[];
  ws: Workspace;
  rows: number;
  /** The learning rate and weight decay when SGD is fused into the dW matmuls (no dW buffers then). */
  sgd?: { rate: number; decay: number };
  /**
   * The batch these rows are a micro-batch of (rows itself when batches run whole): the loss and its
   * gradient are means over the whole batch.
   */
  batchRows: number;
  /** Add this micro-batch's gradients and loss to those of the batch's earlier ones instead of storing them. */
  add: boolean;
  /** Where a training step's mean loss goes. */
  stepLoss: GPUBuffer;
  loss: Loss;
}

/** A recorded plan and the matmul variants it was recorded with, to tell when tuning made it stale. */
export interface PlanEntry {
  plan: Plan;
  /** The tuner's version when `variants` were last compared with its choices. */
  version: number;
  variants: { shape: MatmulShape; name: string }[];
}

/**
 * Records a plan with the tuner's present choices, asking it to tune (in the background) the shape of
 * every matmul the plan records.
 */
export function recordTunedPlan(inputs: Omit<PlanInputs, 'tileFor'>, tuner: MatmulTuner): PlanEntry {
  const version = tuner.version;
  const variants: PlanEntry['variants'] = [];
  const tileFor = (shape: MatmulShape) => {
    tuner.request(shape);
    const name = tuner.variantFor(shape);
    variants.push({ shape, name });
    return tuner.candidates[name];
  };
  return { plan: buildPlan({ ...inputs, tileFor }), version, variants };
}

/** Whether the tuner now picks another variant for one of the plan's matmuls (compared once per version). */
export function planIsStale(entry: PlanEntry, tuner: MatmulTuner): boolean {
  if (entry.version === tuner.version) return false;
  entry.version = tuner.version;
  return entry.variants.some(({ shape, name }) => tuner.variantFor(shape) !== name);
}

/** Collects recordings in order and everything they own, so a failed build frees what it made. */
class Recorder {
  readonly recordings: Recording[] = [];
  constructor(private readonly inputs: PlanInputs) {}

  get ctx(): GpuContext {
    return this.inputs.ctx;
  }

  add(r: Recording | Dispatch): Recording {
    const rec = 'dispatches' in r ? r : recording(r);
    this.recordings.push(rec);
    return rec;
  }

  matmul(label: string, args: MatmulArgs): Recording {
    return this.add(matmulRecording(this.inputs.ctx, label, args, this.inputs.tileFor(shapeOf(args))));
  }

  get dispatches(): Dispatch[] {
    return this.recordings.flatMap((r) => r.dispatches);
  }

  get resources(): GpuResource[] {
    return this.recordings.flatMap(recordingResources);
  }
}

export function buildPlan(inputs: PlanInputs): Plan {
  const { ctx, layers, ws, rows } = inputs;
  const forward = new Recorder(inputs);
  const outputs = new Recorder(inputs);
  const backward = new Recorder(inputs);
  const loss = new Recorder(inputs);
  const sgdMatmuls: Recording[] = [];
  const all = [forward, outputs, loss, backward];
  try {
    layers.forEach((layer, l) => {
      if (layer.blocks.length === 1) forwardLayer(forward, layer, l, ws, rows);
      else forwardSplitLayer(forward, layer, l, ws, rows, ws.split as SplitScratch);
    });
    const L = layers.length;
    const out = layers[L - 1].units;
    const classify = inputs.loss === 'crossEntropy';
    // A softmax output: the matmul stored the logits; predict turns them into probabilities here, while
    // the loss kernel (which needs the logits) does it as it goes.
    if (classify) outputs.add(softmaxDispatch(ctx, 'output.softmax', ws.acts[L], rows, out));
    const terms = lossTerms(loss, inputs, out);
    if (ws.training) {
      if (!classify) {
        // dZ_L = 2 (A_L − Y) / (batch · units) ⊙ f'(A_L): the loss gradient fused with the activation's.
        const { activation } = layers[L - 1];
        const [aL, dzL, outCount] = [ws.acts[L], ws.dz[L - 1], rows * out];
        const total = inputs.batchRows * out;
        backward.add(mseGradDispatch(ctx, 'loss.grad', aL, ws.target, dzL, outCount, activation, total));
      }
      for (let l = L - 1; l >= 0; l--) {
        const prev = l > 0 ? layers[l - 1] : undefined;
        if (layers[l].blocks.length === 1) backwardLayer(backward, inputs, layers[l], prev, l, sgdMatmuls);
        else backwardSplitLayer(backward, inputs, layers[l], prev, l, sgdMatmuls);
      }
    }
    return {
      forward: forward.dispatches,
      outputs: outputs.dispatches,
      ...terms,
      backward: backward.dispatches,
      sgdMatmuls,
      resources: all.flatMap((r) => r.resources),
    };
  } catch (e) {
    // A matmul may allocate a packed texture, which can fail the memory budget: nothing made here stays.
    for (const r of all.flatMap((r) => r.resources)) ctx.release(r);
    throw e;
  }
}

/**
 * The loss of a batch (or micro-batch) of `rows` rows, whose outputs are in the last activation buffer.
 *   mse: partial sums of squared errors, then their sum (fit, evaluate) or the batch's mean (trainStep).
 *   crossEntropy: each row's cross-entropy from the logits (which become the softmax), with dZ_L when
 *     training, then their sum or mean, and the rows answered right (evaluate).
 */
function lossTerms(loss: Recorder, inputs: PlanInputs, out: number) {
  const { ctx, ws, rows, batchRows } = inputs;
  const L = ws.acts.length - 1;
  let partial: Dispatch;
  let terms: number;
  let count: number;
  let correct: Dispatch | undefined;
  if (inputs.loss === 'crossEntropy') {
    const grad = ws.training ? { dz: ws.dz[L - 1], batchRows } : undefined;
    partial = crossEntropyDispatch(ctx, 'loss.rows', ws.acts[L], ws.target, ws.parts, rows, out, grad);
    // stats[rows .. 2·rows) are the right-answer flags.
    if (ws.correct) correct = sumDispatch(ctx, 'loss.correct', ws.parts, rows, rows, ws.correct, 1, true);
    [terms, count] = [rows, batchRows];
  } else {
    partial = msePartialDispatch(ctx, 'loss.partial', ws.acts[L], ws.target, ws.parts, rows * out);
    [terms, count] = [msePartCount(rows * out), batchRows * out];
  }
  const sum = (label: string, into: GPUBuffer, scale: number, accumulate: boolean) =>
    sumDispatch(ctx, label, ws.parts, 0, terms, into, scale, accumulate);
  return {
    lossPartial: loss.add(partial).dispatches[0],
    lossAccumulate: loss.add(sum('loss.accumulate', ws.accumulator, 1, true)).dispatches[0],
    correctAccumulate: correct && loss.add(correct).dispatches[0],
    // The batch's mean loss (a micro-batch's share of it, added to the earlier ones').
    lossMean: ws.training
      ? loss.add(sum('loss.mean', inputs.stepLoss, 1 / count, inputs.add)).dispatches[0]
      : undefined,
  };
}

/** A_{l+1} = f(A_l · W + b). */
function forwardLayer(rec: Recorder, layer: GpuLayer, l: number, ws: Workspace, rows: number): void {
  const { w, b } = layer.blocks[0];
  const [a, out] = [ws.acts[l], ws.acts[l + 1]];
  rec.matmul(`${w.label}.forward`, {
    a,
    b: w,
    bias: b,
    c: out,
    m: rows,
    k: layer.inSize,
    n: layer.units,
    activation: layer.activation,
  });
}

/**
 * Backward through a whole layer, dZ_l given:
 *   dZ_{l-1} = (dZ_l · Wᵀ) ⊙ f'(A_l)   (W before this step's update, so it runs first)
 *   dW = A_lᵀ · dZ_l,  or with SGD fused  W −= lr · A_lᵀ · dZ_l
 *   db = Σ_rows dZ_l
 */
function backwardLayer(
  rec: Recorder,
  inputs: PlanInputs,
  layer: GpuLayer,
  prev: GpuLayer | undefined,
  l: number,
  sgdMatmuls: Recording[],
): void {
  const { ctx, ws, rows } = inputs;
  const { w, b, dw, db } = layer.blocks[0];
  const { inSize, units } = layer;
  const dz = ws.dz[l];
  if (prev) {
    const da = { a: dz, b: w, m: rows, k: units, n: inSize, transposeB: true };
    rec.matmul(`${w.label}.input.grad`, {
      ...da,
      c: ws.dz[l - 1],
      derivativeOf: ws.acts[l],
      activation: prev.activation,
    });
  }
  weightGrad(rec, inputs, { w, dw }, ws.acts[l], dz, inSize, layer.units, sgdMatmuls);
  rec.add(biasGradDispatch(ctx, `${b.label}.grad`, dz, db, rows, units, inputs.add));
}

/**
 * dW = A_prevᵀ · dZ into dw (added to it for a micro-batch after the first); without dw, the SGD step
 * W −= lr · A_prevᵀ · dZ in the matmul's store.
 */
function weightGrad(
  rec: Recorder,
  inputs: PlanInputs,
  { w, dw }: { w: GPUBuffer; dw?: GPUBuffer },
  aPrev: GPUBuffer,
  dz: GPUBuffer,
  inSize: number,
  cols: number,
  sgdMatmuls: Recording[],
): void {
  const shape = { a: aPrev, b: dz, m: inSize, k: inputs.rows, n: cols, transposeA: true };
  if (dw) rec.matmul(`${w.label}.grad`, { ...shape, c: dw, add: inputs.add || undefined });
  else if (inputs.add) throw new Error(`${w.label}: a micro-batch needs dW buffers (addWeightGrads)`);
  else sgdMatmuls.push(rec.matmul(`${w.label}.sgd`, { ...shape, c: w, sgd: inputs.sgd ?? { rate: 0, decay: 0 } }));
}

/** A layer split into column blocks: each block into scratch, then scattered into its columns of A_{l+1}. */
function forwardSplitLayer(rec: Recorder, layer: GpuLayer, l: number, ws: Workspace, rows: number, s: SplitScratch) {
  const ctx = rec.ctx;
  for (const { w, b, col0, cols } of layer.blocks) {
    const args = { a: ws.acts[l], b: w, bias: b, c: s.blockOut, m: rows, k: layer.inSize, n: cols };
    rec.matmul(`${w.label}.forward`, { ...args, activation: layer.activation });
    const from = { buffer: s.blockOut, stride: cols, offset: 0 };
    const to = { buffer: ws.acts[l + 1], stride: layer.units, offset: col0 };
    rec.add(columnsDispatch(ctx, `${w.label}.scatter`, from, to, rows, cols));
  }
}

/**
 * Backward through a split layer: per block j, its dZ columns gathered into scratch, dA_prev += dZ_j ·
 * W_jᵀ (summed over the blocks before f'(A_l) applies, so no fusion), dW_j (or the SGD step) and db_j.
 */
function backwardSplitLayer(
  rec: Recorder,
  inputs: PlanInputs,
  layer: GpuLayer,
  prev: GpuLayer | undefined,
  l: number,
  sgdMatmuls: Recording[],
): void {
  const { ctx, ws, rows } = inputs;
  const s = ws.split as Required<SplitScratch>;
  const { inSize, units } = layer;
  layer.blocks.forEach(({ w, b, dw, db, col0, cols }, j) => {
    const from = { buffer: ws.dz[l], stride: units, offset: col0 };
    rec.add(
      columnsDispatch(ctx, `${w.label}.gather`, from, { buffer: s.blockDz, stride: cols, offset: 0 }, rows, cols),
    );
    if (prev) {
      const args = { a: s.blockDz, b: w, m: rows, k: cols, n: inSize, transposeB: true };
      rec.matmul(`${w.label}.input.grad`, { ...args, c: j === 0 ? s.dA : s.dAPart });
      if (j > 0) {
        const part = { buffer: s.dAPart, stride: inSize, offset: 0 };
        const sum = { buffer: s.dA, stride: inSize, offset: 0 };
        rec.add(columnsDispatch(ctx, `${w.label}.input.grad.add`, part, sum, rows, inSize, true));
      }
    }
    weightGrad(rec, inputs, { w, dw }, ws.acts[l], s.blockDz, inSize, cols, sgdMatmuls);
    rec.add(biasGradDispatch(ctx, `${b.label}.grad`, s.blockDz, db, rows, cols, inputs.add));
  });
  if (prev) {
    const n = rows * inSize;
    rec.add(activationBackwardDispatch(ctx, `layer${l - 1}.dz`, prev.activation, ws.acts[l], s.dA, ws.dz[l - 1], n));
  }
}
