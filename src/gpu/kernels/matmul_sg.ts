// The subgroup matmul (shaders/matmul_sg.wgsl, with pack.wgsl): for adapters whose subgroups are exactly
// SUBGROUP_WIDTH lanes wide (SwiftShader). One operand is packed into an rgba32float texture first, by
// the pack shader or, for suitably aligned eager ops, by a plain buffer-to-texture copy.
import type { GpuContext } from '../context';
import type { BindingKind, Dispatch, Recording } from '../dispatch';
import { ACTIVATION_CODE } from './activation';
import { epilogueOf, type MatmulArgs, type MatmulTile, paramsWords, SUBGROUP_WIDTH } from './matmul_args';

const BINDINGS: BindingKind[] = ['read', 'texture', 'read', 'storage', 'uniform'];
const PACK_BINDINGS: BindingKind[] = ['read', 'storage-texture', 'uniform'];

/** Whether matmul_sg.wgsl can run on this device at all. */
export function subgroupMatmulRuns(ctx: GpuContext): boolean {
  return ctx.subgroupSize === SUBGROUP_WIDTH;
}

/**
 * Packs one operand into a texture, then runs matmul_sg.wgsl. The packed one is the smaller: opB(B)
 * (K×N) when M ≥ N; else opA(A) (M×K), by handing the kernel Cᵀ = opB(B)ᵀ · opA(A)ᵀ. undefined where it
 * does not apply: no 4-wide subgroups, the unpacked operand's stored rows not a multiple of 4 long (its
 * loads are whole vec4s), or the texture or workgroup count over the limits.
 */
export function subgroupMatmul(ctx: GpuContext, label: string, args: MatmulArgs, tile: MatmulTile) {
  if (!subgroupMatmulRuns(ctx)) return undefined;
  const { k, transposeA = false, transposeB = false, activation = 'linear' } = args;
  const aStride = transposeA ? args.m : k;
  const bStride = transposeB ? k : args.n;
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
  if (width > maxSide || height > maxSide || workgroups > ctx.limits.maxComputeWorkgroupsPerDimension) {
    return undefined;
  }
  const texture = args.scratch ? ctx.scratchTexture(width, height) : ctx.texture(`${label}.packed`, width, height);
  const constants = {
    SUBGROUPS: subgroups,
    TM: tile.tm,
    TN: tile.tn,
    TRANSPOSE_A: Number(opA),
    TRANSPOSE_C: Number(swap),
    HAS_BIAS: Number(args.bias !== undefined),
    ACTIVATION: ACTIVATION_CODE[activation],
    EPILOGUE: epilogueOf(args),
  };
  const uniform = ctx.uniform(`${label}.params`, paramsWords(m, n, k, args.sgd));
  const aux = args.bias ?? args.derivativeOf ?? ctx.dummy('bias');
  const main: Dispatch = {
    label,
    pipeline: ctx.pipeline('matmul_sg', 'main_sg', BINDINGS, constants),
    bindGroup: ctx.bindGroup(label, BINDINGS, [a, texture, aux, args.c, uniform]),
    workgroups: [workgroups, 1, 1],
    uniform,
  };
  const textures = args.scratch ? [] : [texture];
  // An eager op whose B is stored K×N with rows of a multiple of 256 bytes (a copy's bytesPerRow) and
  // K a multiple of 4 (no zero rows to add) is copied into the texture instead of packed: a memcpy
  // rather than a shader pass. Texels past N keep what they held; they feed only unstored columns of C.
  if (args.scratch && !opB && n % 64 === 0 && k % 4 === 0) {
    const copy = { buffer: b, texture, bytesPerRow: n * 4, size: [n / 4, k] as [number, number] };
    return { dispatches: [main], textures, copies: [copy] } satisfies Recording;
  }
  const packUniform = ctx.uniform(`${label}.pack.params`, Uint32Array.of(k, n, width, height).buffer);
  const pack: Dispatch = {
    label: `${label}.pack`,
    pipeline: ctx.pipeline('pack', 'main', PACK_BINDINGS, { TRANSPOSE: Number(opB), ALIGNED: Number(n % 4 === 0) }),
    bindGroup: ctx.bindGroup(`${label}.pack`, PACK_BINDINGS, [b, texture, packUniform]),
    workgroups: [Math.ceil(width / 64), height, 1],
    uniform: packUniform,
  };
  return { dispatches: [pack, main], textures, copies: [] } satisfies Recording;
}
