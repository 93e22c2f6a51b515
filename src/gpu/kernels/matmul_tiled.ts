// The tiled matmul (shaders/matmul_tiled.wgsl): slabs of A and B staged in workgroup memory, for GPUs
// where that memory is fast; split along K where the adapter's traits say the tile grid alone would
// leave the GPU partly idle, the slices' partial products then summed in a second dispatch that also
// runs the epilogue.
import type { GpuContext } from '../context';
import { type BindingKind, type Dispatch, elementwiseGrid, type Recording } from '../dispatch';
import { splitCount } from '../matmul_variants';
import { ACTIVATION_CODE } from './activation';
import { epilogueOf, type MatmulArgs, type MatmulTile, paramsWords } from './matmul_args';

const BINDINGS: BindingKind[] = ['read', 'read', 'read', 'storage', 'uniform'];
/** main_split_sum's workgroup size (fixed in the WGSL). */
const SUM_WG = 64;

/** Whether the tiled kernel takes these arguments: the stored rows of A, B and C are whole vec4s. */
export function tiledMatmulApplies(args: MatmulArgs): boolean {
  const { m, n, k, transposeA = false, transposeB = false } = args;
  const aStride = transposeA ? m : k;
  const bStride = transposeB ? k : n;
  return aStride % 4 === 0 && bStride % 4 === 0 && n % 4 === 0;
}

/**
 * Each invocation holds at most one 4×4 unit of each slab between its load and its write (see the
 * WGSL), so a slab may have at most as many units as the workgroup has invocations.
 */
export function checkTiledTile(tile: MatmulTile): void {
  const kt = tile.kt ?? 0;
  const invocations = tile.wgX * tile.wgY;
  const units = Math.max(kt * tile.wgY * tile.tm, kt * tile.wgX * tile.tn) / 16;
  const ok = kt > 0 && kt % 4 === 0 && (tile.tm === 4 || tile.tm === 8) && (tile.tn === 4 || tile.tn === 8);
  if (!ok || units > invocations) {
    throw new Error(
      `matmul: tiled tile ${JSON.stringify(tile)} is not one the kernel takes (tm, tn ∈ {4, 8}, kt a multiple ` +
        'of 4, kt·block/16 ≤ invocations)',
    );
  }
}

export function tiledMatmul(ctx: GpuContext, label: string, args: MatmulArgs, tile: MatmulTile): Recording {
  checkTiledTile(tile);
  const { m, n, k, transposeA = false, transposeB = false, activation = 'linear' } = args;
  const kt = tile.kt as number;
  const split = splitCount(tile, args, ctx.traits);
  const epilogue = {
    HAS_BIAS: Number(args.bias !== undefined),
    ACTIVATION: ACTIVATION_CODE[activation],
    EPILOGUE: epilogueOf(args),
  };
  const constants = {
    WG_X: tile.wgX,
    WG_Y: tile.wgY,
    TM: tile.tm,
    TN: tile.tn,
    KT: kt,
    SPLIT_K: split,
    K_FULL: Number(k % kt === 0),
    TRANSPOSE_A: Number(transposeA),
    TRANSPOSE_B: Number(transposeB),
    // Split along K, the slices store raw partial sums and the sum runs the epilogue: one product pipeline
    // serves every epilogue of the shape.
    ...(split === 1 ? epilogue : {}),
  };
  const uniform = ctx.uniform(`${label}.params`, paramsWords(m, n, k, args.sgd));
  const aux = args.bias ?? args.derivativeOf ?? ctx.dummy('bias');
  const workgroups: [number, number, number] = [
    Math.ceil(n / (tile.wgX * tile.tn)),
    Math.ceil(m / (tile.wgY * tile.tm)),
    split,
  ];
  const pipeline = ctx.pipeline('matmul_tiled', 'main_tiled', BINDINGS, constants);
  if (split === 1) {
    const bindGroup = ctx.bindGroup(label, BINDINGS, [args.a, args.b, aux, args.c, uniform]);
    return { dispatches: [{ label, pipeline, bindGroup, workgroups, uniform }], textures: [], copies: [] };
  }
  let parts: GPUBuffer | undefined;
  try {
    parts = ctx.storage(`${label}.partials`, split * m * n);
    const product: Dispatch = {
      label: `${label}.slices`,
      pipeline,
      bindGroup: ctx.bindGroup(`${label}.slices`, BINDINGS, [args.a, args.b, aux, parts, uniform]),
      workgroups,
      uniform,
    };
    // The sum reads the slices as binding 0 and leaves binding 1 (b) unused; it shares the params
    // uniform, so the learning rate is written once (writeMatmulRate writes the last dispatch's).
    const sum: Dispatch = {
      label: `${label}.sum`,
      pipeline: ctx.pipeline('matmul_tiled', 'main_split_sum', BINDINGS, { SPLIT_K: split, ...epilogue }),
      bindGroup: ctx.bindGroup(`${label}.sum`, BINDINGS, [parts, args.b, aux, args.c, uniform]),
      workgroups: elementwiseGrid((m * n) / 4, SUM_WG),
      uniform,
    };
    return { dispatches: [product, sum], textures: [], copies: [], scratch: [parts] };
  } catch (e) {
    ctx.release(uniform);
    if (parts) ctx.release(parts);
    throw e;
  }
}
