// matmul dispatches (shaders/matmul.wgsl, and matmul_sg.wgsl + pack.wgsl where subgroups are 4 wide):
// the three forms A·B, Aᵀ·B, A·Bᵀ with optional fused bias and activation, or with a training epilogue
// (dZ from dA, or the SGD step). The variant is chosen with override constants, so each combination is
// its own cached pipeline compiled from the same WGSL.
import type { Activation } from '../../types';
import type { BindingKind, Dispatch, GpuContext } from '../context';
import { ACTIVATION_CODE } from './activation';

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
   * with no dA pass. Not with bias or sgdRate.
   */
  derivativeOf?: GPUBuffer;
  /** Apply c −= sgdRate · C to c instead of storing C: the SGD step fused into dW = A_prevᵀ · dZ. */
  sgdRate?: number;
  /**
   * sg32x32: pack into the context's shared scratch texture instead of one the dispatch owns. For eager
   * ops, submitted one at a time: queue order keeps one matmul's pack after the previous one's reads.
   */
  scratch?: boolean;
}

/** Which epilogue a matmul's store runs (EPILOGUE in matmul.wgsl). */
function epilogueOf(args: MatmulArgs): number {
  if ([args.bias, args.derivativeOf, args.sgdRate].filter((x) => x !== undefined).length > 1) {
    throw new Error('matmulDispatch: bias, derivativeOf and sgdRate exclude each other');
  }
  return args.derivativeOf ? 1 : args.sgdRate !== undefined ? 2 : 0;
}

/** The params uniform {M, N, K, lr}. */
function paramsWords(m: number, n: number, k: number, lr = 0): ArrayBuffer {
  const words = Uint32Array.of(m, n, k, 0);
  new Float32Array(words.buffer)[3] = lr;
  return words.buffer;
}

/** Rewrites the learning rate of a matmul dispatch made with sgdRate (after setLearningRate). */
export function writeMatmulRate(ctx: GpuContext, d: Dispatch, lr: number): void {
  ctx.device.queue.writeBuffer(d.uniform, 12, Float32Array.of(lr));
}

/**
 * How the work is cut: wgX × wgY invocations per workgroup, each computing a tm × tn block of C
 * (4, 8, 16 or 32 each). shared: stage a kt-deep slab of A and B in workgroup memory first (for GPUs
 * with fast workgroup memory; kt is a multiple of 4, 16 by default).
 */
export interface MatmulTile {
  wgX: number;
  wgY: number;
  tm: 4 | 8 | 16 | 32;
  tn: 4 | 8 | 16 | 32;
  shared?: boolean;
  kt?: number;
  /**
   * matmul_sg.wgsl: each subgroup of 4 lanes computes tm × 4·tn of C, sharing its rows of A through
   * subgroupBroadcast and reading B from a texture that a pack dispatch fills first; wgX/4 subgroups
   * per workgroup (wgY is 1). Only where subgroups are exactly SUBGROUP_WIDTH wide.
   */
  subgroup?: boolean;
}

/** The subgroup width matmul_sg.wgsl is written for: SwiftShader's 4 SIMD lanes. */
export const SUBGROUP_WIDTH = 4;

/**
 * The candidates an autotuner times per adapter. On SwiftShader (2 cores) at 1024³: r4x4 ~3, r16x16 ~6,
 * s64 ~2.6, sg32x32 ~8–10 GFLOP/s; a pipeline takes ~0.3, ~1, ~2 and ~2.5–5 s to compile there, and
 * every form / epilogue / alignment is its own pipeline. s64 is for real GPUs, where workgroup memory is
 * fast; sg32x32 only exists where subgroups are 4 wide (GpuContext.supports). A plain 32×32 register
 * block (TM = TN = 32 in matmul.wgsl, ~7 GFLOP/s) is no candidate: sg32x32 beats it where such blocks
 * pay at all, and on GPUs 1024 accumulators per invocation spill.
 */
export const MATMUL_VARIANTS: Record<string, MatmulTile> = {
  r4x4: { wgX: 8, wgY: 8, tm: 4, tn: 4 },
  r16x16: { wgX: 4, wgY: 4, tm: 16, tn: 16 },
  s64: { wgX: 8, wgY: 8, tm: 8, tn: 8, shared: true, kt: 16 },
  sg32x32: { wgX: 32, wgY: 1, tm: 32, tn: 32, subgroup: true },
};

/**
 * The variant used for a shape until an autotuner has timed the candidates on this adapter: r16x16 is
 * quick to compile, so pages that never tune stay quick to start; where subgroups are 4 wide, big shapes
 * get sg32x32 (defaultMatmulVariant).
 */
export const DEFAULT_MATMUL_VARIANT = 'r16x16';
export const DEFAULT_MATMUL_TILE: MatmulTile = MATMUL_VARIANTS[DEFAULT_MATMUL_VARIANT];
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
 * for big ones where subgroups are 4 wide (`subgroups`), else the default.
 */
export function defaultMatmulVariant(shape: { m: number; n: number; k: number }, subgroups = false): string {
  const outputs = shape.m * shape.n;
  if (outputs < SMALL_MATMUL_OUTPUTS) return 'r4x4';
  const big = outputs >= SUBGROUP_MATMUL_OUTPUTS && shape.k >= SUBGROUP_MATMUL_DEPTH;
  return subgroups && big ? 'sg32x32' : DEFAULT_MATMUL_VARIANT;
}

/** Outputs one workgroup of this variant computes. */
function workgroupOutputs(tile: MatmulTile): number {
  return tile.subgroup
    ? tile.tm * SUBGROUP_WIDTH * tile.tn * (tile.wgX / SUBGROUP_WIDTH)
    : tile.tm * tile.wgY * tile.tn * tile.wgX;
}

/**
 * Whether an autotuner should time this variant on this shape: not when one workgroup of it covers
 * more than the whole output, which it would mostly spend on padding (and each candidate timed is a
 * pipeline compile, seconds for the big ones on SwiftShader). Untimed, a shape keeps the default.
 */
export function worthTiming(tile: MatmulTile, shape: { m: number; n: number }): boolean {
  return workgroupOutputs(tile) <= shape.m * shape.n;
}

const BINDINGS: BindingKind[] = ['read', 'read', 'read', 'storage', 'uniform'];
const SG_BINDINGS: BindingKind[] = ['read', 'texture', 'read', 'storage', 'uniform'];
const PACK_BINDINGS: BindingKind[] = ['read', 'storage-texture', 'uniform'];

/**
 * When a stored row length is not a multiple of 4, every variant runs as the plain register kernel with
 * blocks of at most 8×8: such shapes have a small odd dimension (an output layer of 10, a batch of 13)
 * where a big block or a workgroup slab would mostly compute padding, and the scalar loads they need make
 * big pipelines slow to compile (seconds each on SwiftShader).
 */
const UNALIGNED_MAX_BLOCK = 8;

export function matmulDispatch(ctx: GpuContext, label: string, args: MatmulArgs, tile = DEFAULT_MATMUL_TILE): Dispatch {
  const { m, n, k, transposeA = false, transposeB = false, activation = 'linear' } = args;
  // Row length of A and B as stored: a vec4 load is aligned when it is a multiple of 4.
  const aStride = transposeA ? m : k;
  const bStride = transposeB ? k : n;
  const epilogue = epilogueOf(args);
  if (tile.subgroup) {
    const d = subgroupMatmulDispatch(ctx, label, args, tile, aStride, bStride, epilogue);
    if (d) return d;
    tile = DEFAULT_MATMUL_TILE; // a shape or device it does not take
  }
  const aligned = aStride % 4 === 0 && bStride % 4 === 0;
  const tm = aligned ? tile.tm : Math.min(tile.tm, UNALIGNED_MAX_BLOCK);
  const tn = aligned ? tile.tn : Math.min(tile.tn, UNALIGNED_MAX_BLOCK);
  const shared = aligned && (tile.shared ?? false);
  const constants = {
    WG_X: tile.wgX,
    WG_Y: tile.wgY,
    TM: tm,
    TN: tn,
    SHARED: Number(shared),
    KT: tile.kt ?? 16,
    TRANSPOSE_A: Number(transposeA),
    TRANSPOSE_B: Number(transposeB),
    ALIGNED_A: Number(aStride % 4 === 0),
    ALIGNED_B: Number(bStride % 4 === 0),
    K_ALIGNED: Number(k % 4 === 0),
    HAS_BIAS: Number(args.bias !== undefined),
    ACTIVATION: ACTIVATION_CODE[activation],
    EPILOGUE: epilogue,
  };
  const uniform = ctx.uniform(`${label}.params`, paramsWords(m, n, k, args.sgdRate));
  return {
    label,
    pipeline: ctx.pipeline('matmul', 'main', BINDINGS, constants),
    bindGroup: ctx.bindGroup(label, BINDINGS, [
      args.a,
      args.b,
      args.bias ?? args.derivativeOf ?? ctx.dummy('bias'),
      args.c,
      uniform,
    ]),
    workgroups: [Math.ceil(n / (tn * tile.wgX)), Math.ceil(m / (tm * tile.wgY)), 1],
    uniform,
  };
}

/**
 * The subgroup variant: pack one operand into a texture, then matmul_sg.wgsl. The packed one is the
 * smaller: opB(B) (K×N) when M ≥ N; else opA(A) (M×K), by handing the kernel Cᵀ = opB(B)ᵀ · opA(A)ᵀ.
 * undefined where it does not apply: no 4-wide subgroups, the unpacked operand's stored rows not a
 * multiple of 4 long (its loads are whole vec4s), or the texture or workgroup count over the limits.
 */
function subgroupMatmulDispatch(
  ctx: GpuContext,
  label: string,
  args: MatmulArgs,
  tile: MatmulTile,
  aStride: number,
  bStride: number,
  epilogue: number,
): Dispatch | undefined {
  if (!ctx.subgroupMatmul) return undefined;
  const { k, transposeA = false, transposeB = false, activation = 'linear' } = args;
  // The problem the kernel sees: P = opA(A') · opB(B'), M' × N', B' packed.
  const swap = args.m < args.n && bStride % 4 === 0;
  if (!swap && aStride % 4 !== 0) return undefined;
  const [m, n] = swap ? [args.n, args.m] : [args.m, args.n];
  const [a, b] = swap ? [args.b, args.a] : [args.a, args.b];
  // (Xᵀ)ᵀ = X: a stored transposed operand reads as plain in the transposed problem, and the other way round.
  const [opA, opB] = swap ? [!transposeB, !transposeA] : [transposeA, transposeB];
  // Wide enough for every lane's columns, so lanes past N' read inside the texture instead of clamping.
  const width = Math.ceil(n / (SUBGROUP_WIDTH * tile.tn)) * tile.tn;
  const height = Math.ceil(k / 4) * 4;
  const maxSide = ctx.limits.maxTextureDimension2D;
  const subgroups = tile.wgX / SUBGROUP_WIDTH;
  const blocks = Math.ceil(m / tile.tm) * Math.ceil(n / (SUBGROUP_WIDTH * tile.tn));
  const workgroups = Math.ceil(blocks / subgroups);
  if (width > maxSide || height > maxSide || workgroups > ctx.limits.maxComputeWorkgroupsPerDimension) return undefined;
  const texture = args.scratch ? ctx.scratchTexture(width, height) : ctx.texture(`${label}.packed`, width, height);
  const constants = {
    SUBGROUPS: subgroups,
    TM: tile.tm,
    TN: tile.tn,
    TRANSPOSE_A: Number(opA),
    TRANSPOSE_C: Number(swap),
    HAS_BIAS: Number(args.bias !== undefined),
    ACTIVATION: ACTIVATION_CODE[activation],
    EPILOGUE: epilogue,
  };
  const uniform = ctx.uniform(`${label}.params`, paramsWords(m, n, k, args.sgdRate));
  const main = {
    label,
    pipeline: ctx.pipeline('matmul_sg', 'main_sg', SG_BINDINGS, constants),
    bindGroup: ctx.bindGroup(label, SG_BINDINGS, [
      a,
      texture,
      args.bias ?? args.derivativeOf ?? ctx.dummy('bias'),
      args.c,
      uniform,
    ]),
    workgroups: [workgroups, 1, 1] as [number, number, number],
    uniform,
  };
  // An eager op whose B is stored K×N with rows of a multiple of 256 bytes (a copy's bytesPerRow) and
  // K a multiple of 4 (no zero rows to add) is copied into the texture instead of packed: a memcpy
  // rather than a shader pass. Texels past N keep what they held; they feed only unstored columns of C.
  if (args.scratch && !opB && n % 64 === 0 && k % 4 === 0) {
    return { ...main, upload: { buffer: b, texture, bytesPerRow: n * 4, size: [n / 4, k] } };
  }
  const packUniform = ctx.uniform(`${label}.pack.params`, Uint32Array.of(k, n, width, height).buffer);
  const prologue: Dispatch = {
    label: `${label}.pack`,
    pipeline: ctx.pipeline('pack', 'main', PACK_BINDINGS, { TRANSPOSE: Number(opB), ALIGNED: Number(n % 4 === 0) }),
    bindGroup: ctx.bindGroup(`${label}.pack`, PACK_BINDINGS, [b, texture, packUniform]),
    workgroups: [Math.ceil(width / 64), height, 1],
    uniform: packUniform,
  };
  return { ...main, prologue, texture: args.scratch ? undefined : texture };
}
