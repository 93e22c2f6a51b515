// The op lists of the wasm trainer's programs: a (micro-)batch's forward pass, its loss, its backward pass,
// and the optimizer update, over the buffers of a network (WasmLayer) and a workspace (WasmWorkspace).
// The same math as the WebGPU plan (src/gpu/plan.ts) and the CPU trainer, with the same fusions: bias and
// activation in the forward matmul, the loss gradient with the output's derivative (or cross-entropy's
// (P − Y)/B), f'(A_prev) in the dA_prev matmul, and with SGD the weight step in the dW matmul.
import type { Loss } from '../trainer';
import type { Activation } from '../types';
import type { WasmBuffer } from './buffer';
import type { AnyOp, EngineActivation } from './program';

/** Input slots a workspace alternates between, so the next batch is written while the last one runs. */
export const SLOTS = 2;

export interface WasmLayer {
  inSize: number;
  units: number;
  activation: Activation;
  w: WasmBuffer;
  b: WasmBuffer;
  /** dW; none with SGD until micro-batches need one (its step is fused into the dW matmul). */
  dw?: WasmBuffer;
  db: WasmBuffer;
  /** The optimizer's state tensors of W and of b, in OptimizerState's slot order. */
  state: { w: WasmBuffer[]; b: WasmBuffer[] };
}

/** Activations and gradients for up to `capacity` rows; `slots` input buffers that alternate per step. */
export interface WasmWorkspace {
  capacity: number;
  /** outs[l] is the output A_{l+1} of layer l (the input A_0 is a slot's x). */
  outs: WasmBuffer[];
  dz: WasmBuffer[];
  /** Per slot: the batch's inputs and targets (written by a gather op or by the host). */
  slots: { x: WasmBuffer; y: WasmBuffer }[];
}

/** Where a program's loss goes. */
export type LossTarget =
  | { kind: 'mean'; out: WasmBuffer } // trainStep: the batch's mean (a micro-batch adds its share)
  | { kind: 'sum'; out: WasmBuffer; correct?: WasmBuffer } // fit's epoch, evaluate: summed (and right answers)
  | { kind: 'none' }; // predict

export interface StepShape {
  layers: WasmLayer[];
  loss: Loss;
  ws: WasmWorkspace;
  slot: number;
  rows: number;
  /** The batch these rows are a micro-batch of (rows when batches run whole). */
  batchRows: number;
  /** A micro-batch after the first: add to the gradients and the mean loss instead of storing them. */
  add: boolean;
  /** The optimizer's hyper block (lr at word 0, wd at word 6) for the SGD step fused into the dW matmul. */
  hyper: WasmBuffer;
}

const engineActivation = (a: Activation): EngineActivation => (a === 'softmax' ? 'linear' : a);

/** A_{l+1} = f(A_l · W + b) for every layer; a softmax output leaves its logits (and, predicting, its P). */
export function forwardOps(s: StepShape, predicting: boolean): AnyOp[] {
  const { layers, ws, rows } = s;
  const input = ws.slots[s.slot].x;
  const ops: AnyOp[] = layers.map((l, i) => ({
    op: 'gemm',
    a: i === 0 ? input : ws.outs[i - 1],
    b: l.w,
    c: ws.outs[i],
    m: rows,
    n: l.units,
    k: l.inSize,
    bias: l.b,
    activation: engineActivation(l.activation),
  }));
  const L = layers.length;
  if (predicting && s.loss === 'crossEntropy') {
    ops.push({ op: 'softmax', x: ws.outs[L - 1], y: ws.outs[L - 1], m: rows, n: layers[L - 1].units });
  }
  return ops;
}

/**
 * The loss into `target`, and when training dZ of the output layer: mse → 2 (A − Y)/(batch · units) ⊙ f'(A);
 * cross-entropy (from the logits, which become P) → (P − Y)/batch.
 */
export function lossOps(s: StepShape, target: LossTarget, training: boolean): AnyOp[] {
  const { layers, ws, rows, batchRows } = s;
  const L = layers.length;
  const out = layers[L - 1].units;
  const [p, t] = [ws.outs[L - 1], ws.slots[s.slot].y];
  const n = rows * out;
  if (s.loss === 'crossEntropy') {
    if (target.kind === 'none') return []; // predicting: the forward pass made P already
    const mean = target.kind === 'mean';
    const loss = target.out;
    return [
      {
        op: 'crossEntropy',
        z: p,
        t,
        m: rows,
        n: out,
        loss,
        lossScale: mean ? 1 / batchRows : 1,
        accumulate: mean ? s.add : true,
        correct: target.kind === 'sum' ? target.correct : undefined,
        ...(training ? { dz: ws.dz[L - 1], gradScale: 1 / batchRows } : {}),
      },
    ];
  }
  const ops: AnyOp[] = [];
  if (target.kind === 'mean')
    ops.push({ op: 'mseLoss', p, t, out: target.out, scale: 1 / (batchRows * out), n, accumulate: s.add });
  if (target.kind === 'sum') ops.push({ op: 'mseLoss', p, t, out: target.out, scale: 1, n, accumulate: true });
  if (training) {
    const activation = engineActivation(layers[L - 1].activation);
    ops.push({ op: 'mseGrad', p, t, g: ws.dz[L - 1], scale: 2 / (batchRows * out), activation, n });
  }
  return ops;
}

/**
 * Backward through every layer, dZ_L given:
 *   dZ_{l-1} = (dZ_l · Wᵀ) ⊙ f'(A_l)   (W before this step's update, so it runs first)
 *   dW = A_lᵀ · dZ_l (added for a later micro-batch), or with SGD fused W −= lr · (A_lᵀ · dZ_l + wd · W)
 *   db = Σ_rows dZ_l
 */
export function backwardOps(s: StepShape): AnyOp[] {
  const { layers, ws, rows } = s;
  const ops: AnyOp[] = [];
  for (let l = layers.length - 1; l >= 0; l--) {
    const { inSize, units, w, dw, db } = layers[l];
    const dz = ws.dz[l];
    const input = l === 0 ? ws.slots[s.slot].x : ws.outs[l - 1];
    if (l > 0) {
      const activation = engineActivation(layers[l - 1].activation);
      const shape = { a: dz, b: w, c: ws.dz[l - 1], m: rows, n: inSize, k: units, transB: true };
      ops.push({ op: 'gemm', ...shape, epilogue: 'grad', aux: ws.outs[l - 1], activation });
    }
    const shape = { a: input, b: dz, m: inSize, n: units, k: rows, transA: true };
    if (dw) ops.push({ op: 'gemm', ...shape, c: dw, epilogue: s.add ? 'add' : 'forward' });
    else if (s.add) throw new Error(`${w.label}: a micro-batch needs dW buffers`);
    else ops.push({ op: 'gemm', ...shape, c: w, epilogue: 'sgd', hyper: s.hyper });
    ops.push({ op: 'biasGrad', dz, out: db, m: rows, n: units, accumulate: s.add });
  }
  return ops;
}

/** The optimizer on every bias, and on every weight matrix that has a dW; decay on the weights only. */
export function updateOps(layers: WasmLayer[], kind: 'sgd' | 'momentum' | 'adam', hyper: WasmBuffer): AnyOp[] {
  return layers.flatMap((l) => [
    ...(l.dw ? [{ op: kind, p: l.w, g: l.dw, s1: l.state.w[0], s2: l.state.w[1], hyper, decay: true } as AnyOp] : []),
    { op: kind, p: l.b, g: l.db, s1: l.state.b[0], s2: l.state.b[1], hyper, decay: false } as AnyOp,
  ]);
}
