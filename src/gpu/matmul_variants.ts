// The matmul variants a tuner chooses from, and the choice made before (or without) tuning. Policy only:
// the kernels are in kernels/matmul.ts and kernels/matmul_sg.ts.
import type { GpuContext } from './context';
import { type MatmulTile, SUBGROUP_WIDTH } from './kernels/matmul_args';
import { subgroupMatmulRuns } from './kernels/matmul_sg';

/**
 * The candidates: register blocks of 4×4 and 16×16 per invocation (r4x4, r16x16); s64, which stages
 * 64×64 tiles in workgroup memory (for real GPUs, where that memory is fast); and sg32x32, only where
 * subgroups are 4 wide (SwiftShader), which shares loads across the lanes of a subgroup. Compile times
 * grow with the block size, and every form / epilogue / alignment is its own pipeline. A plain 32×32
 * register block (TM = TN = 32 in matmul.wgsl) is no candidate: sg32x32 beats it where such blocks pay
 * at all, and on GPUs 1024 accumulators per invocation spill.
 */
export const MATMUL_VARIANTS: Readonly<Record<string, MatmulTile>> = {
  r4x4: { wgX: 8, wgY: 8, tm: 4, tn: 4 },
  r16x16: { wgX: 4, wgY: 4, tm: 16, tn: 16 },
  s64: { wgX: 8, wgY: 8, tm: 8, tn: 8, shared: true, kt: 16 },
  sg32x32: { wgX: 32, wgY: 1, tm: 32, tn: 32, subgroup: true },
};

/** The variants that run on this device. */
export function matmulCandidates(ctx: GpuContext): Record<string, MatmulTile> {
  const runs = subgroupMatmulRuns(ctx);
  return Object.fromEntries(Object.entries(MATMUL_VARIANTS).filter(([, t]) => !t.subgroup || runs));
}

/** The variant for big shapes until a tuner has timed the candidates: quick to compile. */
export const DEFAULT_MATMUL_VARIANT = 'r16x16';
/** Below this many outputs (M·N) the untuned default is r4x4: a 16×16 block would mostly compute padding. */
export const SMALL_MATMUL_OUTPUTS = 128 * 128;
/**
 * From this many outputs (M·N) and this depth (K) on, the untuned choice is sg32x32 where it runs: its
 * blocks are 32 × 128, and with a shallow K packing the texture costs about as much as the product.
 */
export const SUBGROUP_MATMUL_OUTPUTS = 256 * 256;
export const SUBGROUP_MATMUL_DEPTH = 64;

/**
 * The untuned choice for a shape: r4x4 for small outputs (cheap to compile, little padding), sg32x32
 * for big ones where subgroups are 4 wide, else the default.
 */
export function defaultMatmulVariant(shape: { m: number; n: number; k: number }, subgroups: boolean): string {
  const outputs = shape.m * shape.n;
  if (outputs < SMALL_MATMUL_OUTPUTS) return 'r4x4';
  const big = outputs >= SUBGROUP_MATMUL_OUTPUTS && shape.k >= SUBGROUP_MATMUL_DEPTH;
  return subgroups && big ? 'sg32x32' : DEFAULT_MATMUL_VARIANT;
}

/** Outputs one workgroup of this variant computes. */
function workgroupOutputs(tile: MatmulTile): number {
  if (tile.subgroup) return tile.tm * SUBGROUP_WIDTH * tile.tn * (tile.wgX / SUBGROUP_WIDTH);
  return tile.tm * tile.wgY * tile.tn * tile.wgX;
}

/**
 * Whether a tuner should time this variant on this shape: not when one workgroup of it covers more than
 * the whole output, which it would mostly spend on padding (and each candidate timed is a pipeline
 * compile, seconds for the big ones on a software adapter). Untimed, a shape keeps the default.
 */
export function worthTiming(tile: MatmulTile, shape: { m: number; n: number }): boolean {
  return workgroupOutputs(tile) <= shape.m * shape.n;
}
