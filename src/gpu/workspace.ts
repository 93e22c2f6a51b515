// The per-batch-size buffers of a trainer: activations, gradients and loss scratch for up to `capacity`
// rows, described once by workspaceBuffers(), which feeds both the preflight check and the allocation.
// Plans (plan.ts) record dispatches over these buffers, one per batch size used; the trainer keeps them.
import type { BufferSpec, GpuContext } from './context';
import { msePartCount } from './kernels/mse';
import type { GpuLayer } from './params';

export interface Workspace {
  capacity: number;
  training: boolean;
  /** acts[0] is the input batch, acts[l + 1] the output of layer l. */
  acts: GPUBuffer[];
  target: GPUBuffer;
  /** dz[l] = dZ of layer l (training only). */
  dz: GPUBuffer[];
  /** Partial sums of the loss reduction (mse), or each row's cross-entropy and right-answer flag. */
  parts: GPUBuffer;
  /** Summed loss of fit's epoch or of evaluate(). */
  accumulator: GPUBuffer;
  /** Classification (a softmax output): rows answered right, summed by evaluate(). */
  correct?: GPUBuffer;
  /** Split layers only (see plan.ts): their scratch buffers. */
  split?: SplitScratch;
  buffers: GPUBuffer[];
}

export interface SplitScratch {
  /** One block's output columns. */
  blockOut: GPUBuffer;
  /** Training: one block's dZ columns; dA_prev summed over the blocks, and one block's share of it. */
  blockDz?: GPUBuffer;
  dA?: GPUBuffer;
  dAPart?: GPUBuffer;
}

/** What a workspace needs to know of a layer: its shape and its column blocks. */
export type LayerShape = Pick<GpuLayer, 'inSize' | 'units'> & { blocks: readonly { cols: number }[] };

/** The buffers a workspace needs, by role, in f32 values: the one list that is checked and then allocated. */
export function workspaceBuffers(
  layers: LayerShape[],
  capacity: number,
  training: boolean,
  classify = false,
): Record<string, number> {
  const split = layers.filter((l) => l.blocks.length > 1);
  const widestBlock = Math.max(0, ...split.map((l) => l.blocks[0].cols));
  // dA_prev needs a buffer of its own only for split layers (a whole layer's goes straight into dZ_prev).
  const splitInput = Math.max(0, ...split.filter((l) => l !== layers[0]).map((l) => l.inSize));
  const out = layers[layers.length - 1].units;
  const roles: Record<string, number> = { input: capacity * layers[0].inSize };
  layers.forEach((l, i) => {
    roles[`layer${i}.out`] = capacity * l.units;
    if (training) roles[`layer${i}.dz`] = capacity * l.units;
  });
  roles.target = capacity * out;
  // Cross-entropy keeps two values per row (softmax.wgsl): its loss and whether the row was answered right.
  roles['loss.parts'] = classify ? 2 * capacity : msePartCount(capacity * out);
  roles['loss.sum'] = 1;
  if (classify) roles['correct.sum'] = 1;
  if (widestBlock) roles['block.out'] = capacity * widestBlock;
  if (widestBlock && training) roles['block.dz'] = capacity * widestBlock;
  if (splitInput && training) {
    roles.dA = capacity * splitInput;
    roles['dA.part'] = capacity * splitInput;
  }
  return roles;
}

export function makeWorkspace(
  ctx: GpuContext,
  layers: GpuLayer[],
  training: boolean,
  capacity: number,
  classify: boolean,
): Workspace {
  const tag = training ? 'train' : 'infer';
  const roles = Object.entries(workspaceBuffers(layers, capacity, training, classify));
  const specs: BufferSpec[] = roles.map(([role, count]) => ({ label: `${tag}.${role}`, count }));
  const buffers = ctx.allocate(`a batch of ${capacity} rows`, specs);
  const get = new Map(roles.map(([role], i) => [role, buffers[i]]));
  const role = (name: string) => get.get(name) as GPUBuffer;
  const blockOut = get.get('block.out');
  return {
    capacity,
    training,
    acts: [role('input'), ...layers.map((_, i) => role(`layer${i}.out`))],
    target: role('target'),
    dz: training ? layers.map((_, i) => role(`layer${i}.dz`)) : [],
    parts: role('loss.parts'),
    accumulator: role('loss.sum'),
    correct: get.get('correct.sum'),
    split: blockOut && { blockOut, blockDz: get.get('block.dz'), dA: get.get('dA'), dAPart: get.get('dA.part') },
    buffers,
  };
}
