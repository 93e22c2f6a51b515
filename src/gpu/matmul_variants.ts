// The matmul variants, which of them an adapter gets as candidates, the choice made before (or without)
// tuning, and how far K is split. Policy only, and pure: it reads an adapter's traits (traits.ts) and a
// shape, so every rule here is tested in Node against made-up adapters. The kernels are in kernels/.
import { type MatmulShape, type MatmulTile, SUBGROUP_WIDTH } from './kernels/matmul_args';
import { type AdapterTraits, fixedSubgroupSize, targetWorkgroups } from './traits';

/**
 * Every variant. The names say what one workgroup (t…, r…) or one lane (sg…) computes:
 *   r4x4, r16x16  register blocks of 4×4 / 16×16 per invocation, straight from global memory
 *                 (matmul.wgsl). On SwiftShader, where every buffer load is an emulated gather, big
 *                 blocks win; r16x16's 16-invocation workgroups would idle half of a hardware SIMD group.
 *   t32           32×32 tile, 8×8 invocations × 4×4 (tfjs / ONNX Runtime Web's matmul_packed shape);
 *                 t32k the same with split-K where the grid is too small for the GPU.
 *   t64           64×64 tile, 8×8 invocations × 8×8 (gpu.cpp's shape).
 *   t64x128       64×128 tile, 16×8 = 128 invocations × 8×8: two SIMD groups on wave64 hardware; its
 *                 shallow slab (8) is the tuner's option where deep ones lose (short K, Aᵀ·B).
 *   t128          128×128 tile, 16×16 = 256 invocations × 8×8: the most reuse per load, for big outputs.
 *   sg32x32       each 4-lane subgroup computes 32×128 (matmul_sg.wgsl): SwiftShader's own design.
 * All t… variants are one kernel (matmul_tiled.wgsl) with different override constants. Their slabs are
 * as deep as 16 KiB of two slab buffers allows (the workgroup storage every WebGPU device has), but for
 * t128, whose 32 KiB only adapters with that much get: deeper slabs mean fewer barriers and longer runs
 * of each stored row read at once.
 */
export const MATMUL_VARIANTS: Readonly<Record<string, MatmulTile>> = {
  r4x4: { wgX: 8, wgY: 8, tm: 4, tn: 4 },
  r16x16: { wgX: 4, wgY: 4, tm: 16, tn: 16 },
  t32: { wgX: 8, wgY: 8, tm: 4, tn: 4, tiled: true, kt: 32 },
  t32k: { wgX: 8, wgY: 8, tm: 4, tn: 4, tiled: true, kt: 32, splitK: true },
  t64: { wgX: 8, wgY: 8, tm: 8, tn: 8, tiled: true, kt: 16 },
  t64x128: { wgX: 16, wgY: 8, tm: 8, tn: 8, tiled: true, kt: 8 },
  t128: { wgX: 16, wgY: 16, tm: 8, tn: 8, tiled: true, kt: 16 },
  sg32x32: { wgX: 32, wgY: 1, tm: 32, tn: 32, subgroup: true },
};

const KiB = 1024;
/**
 * Hardware workgroups are whole multiples of this many invocations: the SIMD width of NVIDIA, Apple
 * and AMD's wave32 (and half of wave64, which the compilers fill with two workgroups or run half-empty).
 */
export const MIN_HARDWARE_INVOCATIONS = 32;

/** Workgroup memory a variant needs: the tiled kernel's two slab buffers of A and B. */
export function workgroupBytes(tile: MatmulTile): number {
  return tile.tiled ? 2 * (tile.kt ?? 0) * (tile.wgY * tile.tm + tile.wgX * tile.tn) * 4 : 0;
}

function fits(tile: MatmulTile, t: AdapterTraits): boolean {
  return (
    tile.wgX * tile.wgY <= t.maxInvocations &&
    tile.wgX <= t.maxWorkgroupSizeX &&
    tile.wgY <= t.maxWorkgroupSizeY &&
    workgroupBytes(tile) <= t.maxWorkgroupStorage
  );
}

/**
 * The candidates for an adapter.
 *   Software (SwiftShader): the register blocks, t64 (so a tuner keeps the staged-slab option it had),
 *   and sg32x32 where subgroups are 4 wide: what was tuned on it.
 *   Hardware: the tiled family and r4x4, each workgroup a whole number of SIMD groups (of 32, or of the
 *   adapter's narrowest subgroups where those are wider: so never the 16-invocation r16x16), and t128
 *   only from 32 KiB of workgroup storage up: its slabs need that, and the 16 KiB tier is where phones
 *   and small integrated GPUs sit, whose register files hold 256 invocations × an 8×8 block poorly.
 * Then whatever exceeds the adapter's limits is dropped.
 */
export function matmulCandidates(t: AdapterTraits): Record<string, MatmulTile> {
  let names: string[];
  if (t.software) {
    names = ['r4x4', 'r16x16', 't64'];
    if (fixedSubgroupSize(t) === SUBGROUP_WIDTH) names.push('sg32x32');
  } else {
    names = ['r4x4', 't32', 't32k', 't64', 't64x128'];
    if (t.maxWorkgroupStorage >= 32 * KiB) names.push('t128');
    const simd = Math.max(MIN_HARDWARE_INVOCATIONS, t.subgroupMinSize ?? 1);
    names = names.filter((name) => (MATMUL_VARIANTS[name].wgX * MATMUL_VARIANTS[name].wgY) % simd === 0);
  }
  return Object.fromEntries(names.filter((n) => fits(MATMUL_VARIANTS[n], t)).map((n) => [n, MATMUL_VARIANTS[n]]));
}

/**
 * Rows × columns of the blocks a variant cuts C into: one workgroup's; for sg32x32 one subgroup's (its
 * workgroup's subgroups take consecutive blocks of the grid, wrapping from one row of blocks to the next,
 * so they pad only where a block does).
 */
export function blockOf(tile: MatmulTile): { rows: number; cols: number } {
  if (tile.subgroup) return { rows: tile.tm, cols: tile.tn * SUBGROUP_WIDTH };
  return { rows: tile.tm * tile.wgY, cols: tile.tn * tile.wgX };
}

/** Outputs one workgroup of a variant computes. */
function workgroupOutputs(tile: MatmulTile): number {
  const { rows, cols } = blockOf(tile);
  return rows * cols * (tile.subgroup ? tile.wgX / SUBGROUP_WIDTH : 1);
}

/** Workgroups a variant's grid has for a shape (before any split of K). */
export function gridSize(tile: MatmulTile, shape: { m: number; n: number }): number {
  const { rows, cols } = blockOf(tile);
  return Math.ceil(shape.m / rows) * Math.ceil(shape.n / cols);
}

/** Each K slice of a split at least this deep: the partial products' extra traffic stays small. */
export const MIN_SLICE_DEPTH = 256;
export const MAX_SPLIT = 16;

/**
 * How many K slices a split-K variant cuts a shape into: as many as bring the grid up to twice the
 * adapter's target workgroup count (a slice costs only a write and a read of its M×N partial sums, while
 * a GPU left with too few workgroups idles), each slice at least MIN_SLICE_DEPTH deep; 1 (no split)
 * where the grid is big enough or K too shallow. A tile with a number for splitK (tests) gets that many,
 * at most one per slab.
 */
export function splitCount(tile: MatmulTile, shape: { m: number; n: number; k: number }, t: AdapterTraits): number {
  if (!tile.splitK) return 1;
  const slabs = Math.ceil(shape.k / (tile.kt ?? 4));
  if (typeof tile.splitK === 'number') return Math.max(1, Math.min(tile.splitK, slabs));
  const grid = gridSize(tile, shape);
  const target = 2 * targetWorkgroups(t);
  if (grid >= target) return 1;
  const wanted = Math.ceil(target / grid);
  return Math.max(1, Math.min(wanted, Math.floor(shape.k / MIN_SLICE_DEPTH), MAX_SPLIT, slabs));
}

/** Below this many outputs (M·N) the software default is r4x4: a 16×16 block would mostly compute padding. */
export const SMALL_MATMUL_OUTPUTS = 128 * 128;
/**
 * From this many outputs (M·N) and this depth (K) on, the software default is sg32x32 where it runs: its
 * blocks are 32 × 128, and with a shallow K packing the texture costs about as much as the product.
 */
export const SUBGROUP_MATMUL_OUTPUTS = 256 * 256;
export const SUBGROUP_MATMUL_DEPTH = 64;
/** The software default for the rest: quick to compile. */
export const DEFAULT_MATMUL_VARIANT = 'r16x16';

/**
 * The untuned choice for a shape.
 *   Software (tuned on SwiftShader, kept as it was): r4x4 for small outputs, sg32x32 for big ones where
 *   it runs, else r16x16.
 *   Hardware, by an occupancy estimate: the biggest tile whose grid still gives the GPU its target
 *   number of workgroups (traits.ts; t128 needs twice that, as each of its workgroups is four of t64's);
 *   where even t32 falls short of splitCount's goal (batch-sized M against a wide layer), t32k.
 */
export function defaultMatmulVariant(shape: MatmulShape, t: AdapterTraits): string {
  const candidates = matmulCandidates(t);
  if (t.software) {
    const outputs = shape.m * shape.n;
    if (outputs < SMALL_MATMUL_OUTPUTS) return 'r4x4';
    const big = outputs >= SUBGROUP_MATMUL_OUTPUTS && shape.k >= SUBGROUP_MATMUL_DEPTH;
    return big && candidates.sg32x32 ? 'sg32x32' : DEFAULT_MATMUL_VARIANT;
  }
  const target = targetWorkgroups(t);
  if (candidates.t128 && gridSize(candidates.t128, shape) >= 2 * target) return 't128';
  if (candidates.t64 && gridSize(candidates.t64, shape) >= target) return 't64';
  if (candidates.t32k && splitCount(candidates.t32k, shape, t) > 1) return 't32k';
  return candidates.t32 ? 't32' : Object.keys(candidates)[0];
}

/** At most this share of what a timed variant computes may be padding past the edges of C. */
const MAX_PADDING = 0.5;

/**
 * Whether a tuner should time a variant on a shape: not when one workgroup of it covers more than the
 * whole output, nor when more than half of what its grid computes is padding past the edges (it would
 * lose; and each candidate timed is pipeline compiles, seconds for the big ones on a software adapter),
 * nor a split-K variant that would not split (it would be timed as its base).
 */
export function worthTiming(tile: MatmulTile, shape: MatmulShape, t: AdapterTraits): boolean {
  const { rows, cols } = blockOf(tile);
  const outputs = shape.m * shape.n;
  if (workgroupOutputs(tile) > outputs || gridSize(tile, shape) * rows * cols * (1 - MAX_PADDING) > outputs) {
    return false;
  }
  return !tile.splitK || splitCount(tile, shape, t) > 1;
}
