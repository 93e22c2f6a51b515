// Matmul recordings (shaders/matmul.wgsl): the three forms A·B, Aᵀ·B, A·Bᵀ with optional fused bias and
// activation, or with a training epilogue (dZ from dA, the SGD step, or a micro-batch's sum). The tile is
// chosen with override constants, so each combination is its own cached pipeline compiled from the same
// WGSL; a tiled tile goes to matmul_tiled.ts, a subgroup tile to matmul_sg.ts where the device runs it.
import type { GpuContext } from '../context';
import { type BindingKind, type Recording, recording } from '../dispatch';
import { ACTIVATION_CODE } from './activation';
import { epilogueOf, type MatmulArgs, type MatmulTile, paramsWords } from './matmul_args';
import { subgroupMatmul } from './matmul_sg';
import { tiledMatmul, tiledMatmulApplies } from './matmul_tiled';

const BINDINGS: BindingKind[] = ['read', 'read', 'read', 'storage', 'uniform'];

/**
 * When a stored row length is not a multiple of 4, every tile runs as the plain register kernel with
 * blocks of at most 8×8: such shapes have a small odd dimension (an output layer of 10, a batch of 13)
 * where a big block or a workgroup slab would mostly compute padding, and the scalar loads they need make
 * big pipelines slow to compile.
 */
const UNALIGNED_MAX_BLOCK = 8;

/** The register tile used when a subgroup tile does not apply to a shape or device. */
export const FALLBACK_TILE: MatmulTile = { wgX: 4, wgY: 4, tm: 16, tn: 16 };
/**
 * The register tile used when a tiled one does not apply (a stored row or C's rows not a multiple of 4
 * long): 64 invocations, as the tiled tiles are meant for hardware GPUs, and small blocks, as such shapes
 * have a small odd dimension.
 */
export const UNALIGNED_TILED_TILE: MatmulTile = { wgX: 8, wgY: 8, tm: 4, tn: 4 };

/** Records C = op(A)·op(B) through the store `args` asks for, cut into `tile`s. */
export function matmulRecording(ctx: GpuContext, label: string, args: MatmulArgs, tile: MatmulTile): Recording {
  if (tile.subgroup) {
    const r = subgroupMatmul(ctx, label, args, tile);
    if (r) return r;
    tile = FALLBACK_TILE;
  }
  if (tile.tiled) {
    if (tiledMatmulApplies(args)) return tiledMatmul(ctx, label, args, tile);
    tile = UNALIGNED_TILED_TILE;
  }
  const { m, n, k, transposeA = false, transposeB = false, activation = 'linear' } = args;
  // Row length of A and B as stored: a vec4 load is aligned when it is a multiple of 4.
  const aStride = transposeA ? m : k;
  const bStride = transposeB ? k : n;
  const aligned = aStride % 4 === 0 && bStride % 4 === 0;
  const tm = aligned ? tile.tm : Math.min(tile.tm, UNALIGNED_MAX_BLOCK);
  const tn = aligned ? tile.tn : Math.min(tile.tn, UNALIGNED_MAX_BLOCK);
  const constants = {
    WG_X: tile.wgX,
    WG_Y: tile.wgY,
    TM: tm,
    TN: tn,
    TRANSPOSE_A: Number(transposeA),
    TRANSPOSE_B: Number(transposeB),
    ALIGNED_A: Number(aStride % 4 === 0),
    ALIGNED_B: Number(bStride % 4 === 0),
    K_ALIGNED: Number(k % 4 === 0),
    HAS_BIAS: Number(args.bias !== undefined),
    ACTIVATION: ACTIVATION_CODE[activation],
    EPILOGUE: epilogueOf(args),
  };
  const uniform = ctx.uniform(`${label}.params`, paramsWords(m, n, k, args.sgd));
  const aux = args.bias ?? args.derivativeOf ?? ctx.dummy('bias');
  return recording({
    label,
    pipeline: ctx.pipeline('matmul', 'main', BINDINGS, constants),
    bindGroup: ctx.bindGroup(label, BINDINGS, [args.a, args.b, aux, args.c, uniform]),
    workgroups: [Math.ceil(n / (tn * tile.wgX)), Math.ceil(m / (tm * tile.wgY)), 1],
    uniform,
  });
}
