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

/** Invocations per workgroup along x (columns) and y (rows); each computes a 4×4 block. */
export interface MatmulTile { wgX: number; wgY: number }

export const DEFAULT_MATMUL_TILE: MatmulTile = { wgX: 8, wgY: 8 };

const BINDINGS: BindingKind[] = ['read', 'read', 'read', 'storage', 'uniform'];
const BLOCK = 4; // outputs per invocation along each axis, fixed by the kernel's mat4x4 accumulator

export function matmulDispatch(ctx: GpuContext, label: string, args: MatmulArgs, tile = DEFAULT_MATMUL_TILE): Dispatch {
  const { m, n, k, transposeA = false, transposeB = false, activation = 'linear' } = args;
  // Row length of A and B as stored: a vec4 load is aligned when it is a multiple of 4.
  const aStride = transposeA ? m : k;
  const bStride = transposeB ? k : n;
  const constants = {
    WG_X: tile.wgX,
    WG_Y: tile.wgY,
    TRANSPOSE_A: Number(transposeA),
    TRANSPOSE_B: Number(transposeB),
    ALIGNED_A: Number(aStride % 4 === 0),
    ALIGNED_B: Number(bStride % 4 === 0),
    HAS_BIAS: Number(args.bias !== undefined),
    ACTIVATION: ACTIVATION_CODE[activation],
  };
  const uniform = ctx.uniform(`${label}.params`, Uint32Array.of(m, n, k, 0).buffer);
  return {
    label,
    pipeline: ctx.pipeline('matmul', 'main', BINDINGS, constants),
    bindGroup: ctx.bindGroup(label, BINDINGS, [args.a, args.b, args.bias ?? ctx.dummy('bias'), args.c, uniform]),
    workgroups: [Math.ceil(n / (BLOCK * tile.wgX)), Math.ceil(m / (BLOCK * tile.wgY)), 1],
    uniform,
  };
}
