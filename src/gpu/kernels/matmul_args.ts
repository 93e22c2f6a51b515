// What every matmul kernel (matmul.ts, matmul_sg.ts) shares: its arguments, how the work is cut into
// tiles, which epilogue the store runs, and the params uniform. No dispatch is made here.
import type { Activation } from '../../types';
import type { GpuContext } from '../context';
import type { Recording } from '../dispatch';

export interface MatmulArgs {
  a: GPUBuffer;
  b: GPUBuffer;
  c: GPUBuffer;
  bias?: GPUBuffer;
  m: number;
  n: number;
  k: number;
  transposeA?: boolean;
  transposeB?: boolean;
  /** f of the forward epilogue; with derivativeOf, the f whose derivative is applied. */
  activation?: Activation;
  /**
   * Store C ⊙ f'(Y) instead, Y being this M×N buffer (a layer's output): dZ_prev straight from dZ · Wᵀ,
   * with no dA pass. Not with bias or sgd.
   */
  derivativeOf?: GPUBuffer;
  /**
   * Apply c −= rate · (C + decay · c) to c instead of storing C: the SGD step (with decoupled weight
   * decay) fused into dW = A_prevᵀ · dZ.
   */
  sgd?: { rate: number; decay: number };
  /** Add C to c instead of storing it: dW summed over the micro-batches of a batch. */
  add?: boolean;
  /**
   * sg32x32: pack into the context's shared scratch texture instead of one the dispatch owns. For eager
   * ops, submitted one at a time: queue order keeps one matmul's pack after the previous one's reads.
   */
  scratch?: boolean;
}

/** Which store a matmul runs (EPILOGUE in matmul.wgsl), by name. */
export type EpilogueKind = 'forward' | 'grad' | 'sgd' | 'add';

/**
 * The shape of a product op(A)·op(B): M×K · K×N, its form, and what its store does (a tuner times each
 * epilogue as it is used: the fused training ones read and write more than a plain store).
 */
export interface MatmulShape {
  m: number;
  k: number;
  n: number;
  transposeA?: boolean;
  transposeB?: boolean;
  /** 'forward' when absent. */
  epilogue?: EpilogueKind;
  /** The forward epilogue's bias and f, or the f whose derivative the 'grad' epilogue applies. */
  bias?: boolean;
  activation?: Activation;
}

/** EPILOGUE in matmul.wgsl: the plain or fused-forward store, dZ_prev from dA, or the SGD step. */
export const EPI_FORWARD = 0;
export const EPI_GRAD = 1;
export const EPI_SGD = 2;
export const EPI_ADD = 3;

/** Which epilogue a matmul's store runs. */
export function epilogueOf(args: MatmulArgs): number {
  const asked = [args.bias, args.derivativeOf, args.sgd, args.add || undefined];
  if (asked.filter((x) => x !== undefined).length > 1) {
    throw new Error('matmul: bias, derivativeOf, sgd and add exclude each other');
  }
  if (args.derivativeOf) return EPI_GRAD;
  if (args.sgd !== undefined) return EPI_SGD;
  return args.add ? EPI_ADD : EPI_FORWARD;
}

const EPILOGUE_KIND: EpilogueKind[] = ['forward', 'grad', 'sgd', 'add'];

/** The shape, form and epilogue of a matmul's arguments. */
export function shapeOf(args: MatmulArgs): MatmulShape {
  const { m, k, n, transposeA, transposeB, activation } = args;
  const epilogue = EPILOGUE_KIND[epilogueOf(args)];
  return { m, k, n, transposeA, transposeB, epilogue, bias: args.bias !== undefined, activation };
}

/** The params uniform {M, N, K, lr, wd}. */
export function paramsWords(m: number, n: number, k: number, sgd?: { rate: number; decay: number }): ArrayBuffer {
  const words = Uint32Array.of(m, n, k, 0, 0, 0, 0, 0);
  const floats = new Float32Array(words.buffer);
  floats[3] = sgd?.rate ?? 0;
  floats[4] = sgd?.decay ?? 0;
  return words.buffer;
}

/** Rewrites the learning rate of a matmul recorded with sgd (after setLearningRate): its last dispatch's. */
export function writeMatmulRate(ctx: GpuContext, r: Recording, lr: number): void {
  ctx.device.queue.writeBuffer(r.dispatches[r.dispatches.length - 1].uniform, 12, Float32Array.of(lr));
}

/**
 * How the work is cut: wgX × wgY invocations per workgroup, each computing a tm × tn block of C.
 *   Register kernel (matmul.wgsl main): tm, tn ∈ {4, 8, 16, 32}, straight from global memory.
 *   tiled (matmul_tiled.wgsl): tm, tn ∈ {4, 8}; the workgroup stages kt-deep slabs of A and B in
 *     workgroup memory (for GPUs where that memory is fast). splitK: where the tile grid would leave the
 *     GPU partly idle, K is cut into slices whose partial products are summed after (the count comes from
 *     the adapter's traits, matmul_variants.ts).
 *   subgroup (matmul_sg.wgsl): each subgroup of 4 lanes computes tm × 4·tn of C, sharing its rows of A
 *     through subgroupBroadcast and reading B from a texture that a pack dispatch fills first; wgX/4
 *     subgroups per workgroup (wgY is 1). Only where subgroups are exactly SUBGROUP_WIDTH wide.
 */
export interface MatmulTile {
  wgX: number;
  wgY: number;
  tm: 4 | 8 | 16 | 32;
  tn: 4 | 8 | 16 | 32;
  tiled?: boolean;
  kt?: number;
  /** true: split as the adapter needs; a number: exactly that many slices (tests). */
  splitK?: boolean | number;
  subgroup?: boolean;
}

/** The subgroup width matmul_sg.wgsl is written for: SwiftShader's 4 SIMD lanes. */
export const SUBGROUP_WIDTH = 4;
