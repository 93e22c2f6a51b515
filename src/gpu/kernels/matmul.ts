// matmul dispatches (shaders/matmul.wgsl): the three forms A·B, Aᵀ·B, A·Bᵀ with optional fused bias and
// activation. The variant is chosen with override constants, so each combination is its own cached
// pipeline compiled from the same WGSL.
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
  activation?: Activation;
}

/**
 * How the work is cut: wgX × wgY invocations per workgroup, each computing a tm × tn block of C
 * (4, 8, 16 or 32 each). shared: stage a kt-deep slab of A and B in workgroup memory first (for GPUs
 * with fast workgroup memory; kt is a multiple of 4, 16 by default).
 */
export interface MatmulTile { wgX: number; wgY: number; tm: 4 | 8 | 16 | 32; tn: 4 | 8 | 16 | 32; shared?: boolean; kt?: number }

/**
 * The candidates an autotuner times per adapter. On SwiftShader (2 cores) at 1024³: r4x4 ~3, r16x16 ~6,
 * r32x32 ~7.5, s64 ~2.6 GFLOP/s; but a pipeline takes ~0.3, ~1, ~5 and ~2 s to compile there, and every
 * form / epilogue / alignment is its own pipeline. s64 is for real GPUs, where workgroup memory is fast.
 */
export const MATMUL_VARIANTS: Record<string, MatmulTile> = {
  r4x4: { wgX: 8, wgY: 8, tm: 4, tn: 4 },
  r16x16: { wgX: 4, wgY: 4, tm: 16, tn: 16 },
  r32x32: { wgX: 2, wgY: 2, tm: 32, tn: 32 },
  s64: { wgX: 8, wgY: 8, tm: 8, tn: 8, shared: true, kt: 16 },
};

/**
 * The variant used for a shape until an autotuner has timed the candidates on this adapter: r16x16 is
 * within ~20% of r32x32 on big shapes and compiles 5× faster, so pages that never tune stay quick to start.
 */
export const DEFAULT_MATMUL_VARIANT = 'r16x16';
export const DEFAULT_MATMUL_TILE: MatmulTile = MATMUL_VARIANTS[DEFAULT_MATMUL_VARIANT];
/** Below this many outputs (M·N) the untuned default is r4x4: a 16×16 block would mostly compute padding. */
export const SMALL_MATMUL_OUTPUTS = 128 * 128;

/** The untuned choice for a shape: r4x4 for small outputs (cheap to compile, little padding), else the default. */
export function defaultMatmulVariant(shape: { m: number; n: number }): string {
  return shape.m * shape.n < SMALL_MATMUL_OUTPUTS ? 'r4x4' : DEFAULT_MATMUL_VARIANT;
}

const BINDINGS: BindingKind[] = ['read', 'read', 'read', 'storage', 'uniform'];

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
  };
  const uniform = ctx.uniform(`${label}.params`, Uint32Array.of(m, n, k, 0).buffer);
  return {
    label,
    pipeline: ctx.pipeline('matmul', 'main', BINDINGS, constants),
    bindGroup: ctx.bindGroup(label, BINDINGS, [args.a, args.b, args.bias ?? ctx.dummy('bias'), args.c, uniform]),
    workgroups: [Math.ceil(n / (tn * tile.wgX)), Math.ceil(m / (tm * tile.wgY)), 1],
    uniform,
  };
}
