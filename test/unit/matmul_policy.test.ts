// The matmul policy (src/gpu/matmul_variants.ts, src/gpu/traits.ts) is pure: which variants an adapter
// gets, the untuned default per shape, how far K is split, and at what size the tuner times a shape.
// Checked here against made-up adapters (./adapters.ts), no GPU.
import { describe, expect, it } from 'vitest';
import type { MatmulShape } from '../../src/gpu/kernels/matmul_args';
import { checkTiledTile } from '../../src/gpu/kernels/matmul_tiled';
import { timedShape } from '../../src/gpu/matmul_timing';
import {
  defaultMatmulVariant,
  gridSize,
  MATMUL_VARIANTS,
  MIN_SLICE_DEPTH,
  matmulCandidates,
  splitCount,
  workgroupBytes,
  worthTiming,
} from '../../src/gpu/matmul_variants';
import { isSoftwareAdapter, targetWorkgroups } from '../../src/gpu/traits';
import {
  ADRENO,
  AMD,
  APPLE,
  HARDWARE,
  NVIDIA,
  SWIFTSHADER,
  SWIFTSHADER_NO_SUBGROUPS,
  UNNAMED_FALLBACK,
} from './adapters';

const names = (t: Parameters<typeof matmulCandidates>[0]) => Object.keys(matmulCandidates(t)).sort();

// Shapes a network trains with: square products, batch-sized M against wide layers (forward, dA_prev),
// and the dW products (M = a layer's inputs, K = the batch).
const SHAPES: MatmulShape[] = [
  { m: 1, k: 1, n: 4 },
  { m: 64, k: 64, n: 64 },
  { m: 256, k: 784, n: 256 },
  { m: 1024, k: 1024, n: 1024 },
  { m: 4096, k: 4096, n: 4096 },
  { m: 32, k: 4096, n: 1024 },
  { m: 32, k: 1024, n: 4096, transposeB: true, epilogue: 'grad' },
  { m: 784, k: 256, n: 1024, transposeA: true, epilogue: 'sgd' },
];

describe('adapter traits', () => {
  it('tells software adapters by name or by isFallbackAdapter', () => {
    expect(SWIFTSHADER.software).toBe(true);
    expect(UNNAMED_FALLBACK.software).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.7, 256 bits)' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toBe(true);
    for (const t of Object.values(HARDWARE)) expect(t.software).toBe(false);
  });

  it('keeps subgroup sizes only where the device has the feature', () => {
    expect(SWIFTSHADER.subgroupMinSize).toBe(4);
    expect(SWIFTSHADER_NO_SUBGROUPS.subgroupMinSize).toBeUndefined();
  });
});

describe('matmul candidates by adapter', () => {
  it('SwiftShader keeps what was tuned on it: the register blocks, t64, and sg32x32 with 4-wide subgroups', () => {
    expect(names(SWIFTSHADER)).toEqual(['r16x16', 'r4x4', 'sg32x32', 't64']);
    expect(names(SWIFTSHADER_NO_SUBGROUPS)).toEqual(['r16x16', 'r4x4', 't64']);
  });

  it('an Apple-like, an NVIDIA-like and an AMD-like GPU get the tiled family, t128 included', () => {
    const tiled = ['r4x4', 't128', 't32', 't32k', 't64', 't64x128'];
    expect(names(APPLE)).toEqual(tiled);
    expect(names(NVIDIA)).toEqual(tiled);
    expect(names(AMD)).toEqual(tiled);
  });

  it('a 16 KiB phone GPU whose subgroups are 64 or 128 wide gets no t128', () => {
    expect(names(ADRENO)).toEqual(['r4x4', 't32', 't32k', 't64', 't64x128']);
  });

  it('never a 16-invocation workgroup, nor a subgroup kernel, on a hardware adapter', () => {
    for (const t of Object.values(HARDWARE)) {
      for (const tile of Object.values(matmulCandidates(t))) {
        expect(tile.wgX * tile.wgY).toBeGreaterThanOrEqual(64);
        expect(tile.subgroup).toBeFalsy();
      }
    }
  });

  it('drops what exceeds the limits: workgroup storage, invocations', () => {
    const narrow = { ...NVIDIA, maxInvocations: 64 };
    expect(names(narrow)).toEqual(['r4x4', 't32', 't32k', 't64']);
    const small = { ...NVIDIA, maxWorkgroupStorage: 12 * 1024 };
    expect(names(small)).toEqual(['r4x4', 't64x128']); // the others' slabs take 16 or 32 KiB
    for (const t of [narrow, small]) {
      for (const tile of Object.values(matmulCandidates(t))) {
        expect(workgroupBytes(tile)).toBeLessThanOrEqual(t.maxWorkgroupStorage);
        expect(tile.wgX * tile.wgY).toBeLessThanOrEqual(t.maxInvocations);
      }
    }
  });

  it('every tiled variant but t128 fits the 16 KiB every device has; each suits the kernel', () => {
    for (const [name, tile] of Object.entries(MATMUL_VARIANTS).filter(([, t]) => t.tiled)) {
      expect(workgroupBytes(tile)).toBeLessThanOrEqual(name === 't128' ? 32 * 1024 : 16 * 1024);
      expect(() => checkTiledTile(tile)).not.toThrow();
    }
    expect(() => checkTiledTile({ wgX: 8, wgY: 8, tm: 8, tn: 8, tiled: true, kt: 32 })).toThrow(/kt·block/);
  });
});

describe('untuned defaults', () => {
  it('SwiftShader keeps its defaults: r4x4 small, sg32x32 big and deep, else r16x16', () => {
    expect(defaultMatmulVariant({ m: 64, k: 64, n: 64 }, SWIFTSHADER)).toBe('r4x4');
    expect(defaultMatmulVariant({ m: 256, k: 64, n: 256 }, SWIFTSHADER)).toBe('sg32x32');
    expect(defaultMatmulVariant({ m: 256, k: 32, n: 256 }, SWIFTSHADER)).toBe('r16x16');
    expect(defaultMatmulVariant({ m: 256, k: 64, n: 256 }, SWIFTSHADER_NO_SUBGROUPS)).toBe('r16x16');
    expect(defaultMatmulVariant({ m: 128, k: 256, n: 200 }, SWIFTSHADER)).toBe('r16x16');
  });

  it('by occupancy on hardware: the biggest tile that still fills the GPU', () => {
    // NVIDIA-like: 80 workgroups wanted (t128 needs 160).
    expect(targetWorkgroups(NVIDIA)).toBe(80);
    expect(defaultMatmulVariant({ m: 4096, k: 4096, n: 4096 }, NVIDIA)).toBe('t128');
    expect(defaultMatmulVariant({ m: 1024, k: 1024, n: 1024 }, NVIDIA)).toBe('t64');
    // 256×256 is 64 workgroups of t32: K (784) is split in 2 to make them 128.
    expect(defaultMatmulVariant({ m: 256, k: 784, n: 256 }, NVIDIA)).toBe('t32k');
    expect(defaultMatmulVariant({ m: 256, k: 128, n: 256 }, NVIDIA)).toBe('t32');
    // Apple-like: fewer, wider cores, so bigger tiles fill it sooner.
    expect(targetWorkgroups(APPLE)).toBe(20);
    expect(defaultMatmulVariant({ m: 1024, k: 1024, n: 1024 }, APPLE)).toBe('t128');
    expect(defaultMatmulVariant({ m: 512, k: 784, n: 512 }, APPLE)).toBe('t64');
    expect(defaultMatmulVariant({ m: 256, k: 784, n: 256 }, APPLE)).toBe('t32');
    expect(defaultMatmulVariant({ m: 64, k: 64, n: 64 }, APPLE)).toBe('t32');
    // The phone has no t128.
    expect(defaultMatmulVariant({ m: 4096, k: 4096, n: 4096 }, ADRENO)).toBe('t64');
  });

  it('batch-sized M against a wide layer splits K where the tile grid leaves the GPU idle', () => {
    const wide = { m: 32, k: 4096, n: 1024 };
    expect(gridSize(MATMUL_VARIANTS.t32, wide)).toBe(32);
    expect(defaultMatmulVariant(wide, NVIDIA)).toBe('t32k');
    // Split until twice the target: 32 workgroups × 5 ≥ 160 on the NVIDIA-like GPU, × 2 ≥ 40 on the Apple-like.
    expect(splitCount(MATMUL_VARIANTS.t32k, wide, NVIDIA)).toBe(5);
    expect(defaultMatmulVariant(wide, AMD)).toBe('t32k');
    expect(splitCount(MATMUL_VARIANTS.t32k, wide, APPLE)).toBe(2);
    // 256 workgroups of t32 fill even the NVIDIA-like GPU: no split.
    expect(defaultMatmulVariant({ m: 64, k: 2048, n: 4096 }, NVIDIA)).toBe('t32');
    // Too shallow to split: each slice would be under MIN_SLICE_DEPTH.
    expect(splitCount(MATMUL_VARIANTS.t32k, { m: 32, k: MIN_SLICE_DEPTH, n: 1024 }, NVIDIA)).toBe(1);
    expect(defaultMatmulVariant({ m: 32, k: 256, n: 1024 }, NVIDIA)).toBe('t32');
  });

  it('a split is at most MAX_SPLIT slices and never more than K has slabs; a fixed count is honoured', () => {
    expect(splitCount(MATMUL_VARIANTS.t32k, { m: 4, k: 65536, n: 4 }, NVIDIA)).toBe(16);
    // t32k's slabs are 32 deep: K = 68 has 3, K = 40 has 2.
    expect(splitCount({ ...MATMUL_VARIANTS.t32k, splitK: 3 }, { m: 36, k: 68, n: 44 }, SWIFTSHADER)).toBe(3);
    expect(splitCount({ ...MATMUL_VARIANTS.t32k, splitK: 3 }, { m: 36, k: 40, n: 44 }, SWIFTSHADER)).toBe(2);
    expect(splitCount(MATMUL_VARIANTS.t64, { m: 4, k: 65536, n: 4 }, NVIDIA)).toBe(1);
  });

  it('every default is one of the adapter’s candidates, on every shape', () => {
    for (const t of [...Object.values(HARDWARE), SWIFTSHADER, SWIFTSHADER_NO_SUBGROUPS]) {
      for (const s of SHAPES) expect(Object.keys(matmulCandidates(t))).toContain(defaultMatmulVariant(s, t));
    }
  });
});

describe('what a tuner times', () => {
  it('skips variants whose one workgroup covers more than the output, and split-K where it would not split', () => {
    expect(worthTiming(MATMUL_VARIANTS.t128, { m: 64, k: 64, n: 64 }, NVIDIA)).toBe(false);
    expect(worthTiming(MATMUL_VARIANTS.t32, { m: 64, k: 64, n: 64 }, NVIDIA)).toBe(true);
    expect(worthTiming(MATMUL_VARIANTS.t32k, { m: 1024, k: 1024, n: 1024 }, NVIDIA)).toBe(false);
    expect(worthTiming(MATMUL_VARIANTS.t32k, { m: 32, k: 4096, n: 1024 }, NVIDIA)).toBe(true);
    expect(worthTiming(MATMUL_VARIANTS.t128, { m: 32, k: 4096, n: 1024 }, NVIDIA)).toBe(false); // 3/4 padding
    expect(worthTiming(MATMUL_VARIANTS.t64, { m: 32, k: 4096, n: 1024 }, NVIDIA)).toBe(true); // half
    // sg32x32: a workgroup covers 32×1024 of C, but as eight 32×128 blocks of the grid, wrapping rows.
    expect(worthTiming(MATMUL_VARIANTS.sg32x32, { m: 256, k: 256, n: 256 }, SWIFTSHADER)).toBe(true);
    expect(worthTiming(MATMUL_VARIANTS.sg32x32, { m: 128, k: 64, n: 64 }, SWIFTSHADER)).toBe(false); // 32×128 blocks
    expect(worthTiming(MATMUL_VARIANTS.sg32x32, { m: 16, k: 64, n: 128 }, SWIFTSHADER)).toBe(false); // > M·N
  });

  it('times the real shape where it is affordable, else shrinks K first, keeping every vec4 alignment', () => {
    expect(timedShape({ m: 32, k: 4096, n: 1024 }, NVIDIA)).toMatchObject({ m: 32, k: 4096, n: 1024 });
    const huge = timedShape({ m: 8192, k: 8192, n: 8192, epilogue: 'sgd' }, NVIDIA);
    expect(huge.m * huge.k * huge.n).toBeLessThanOrEqual(2 ** 31);
    expect(huge.epilogue).toBe('sgd');
    expect(huge.k).toBeLessThanOrEqual(256);
    const soft = timedShape({ m: 256, k: 784, n: 1024 }, SWIFTSHADER);
    expect(soft.m * soft.k * soft.n).toBeLessThanOrEqual(2 ** 25);
    expect(soft.m).toBe(256); // K and then the wider side went first
    const odd = timedShape({ m: 4097, k: 3001, n: 1022 }, SWIFTSHADER);
    expect([odd.m % 4, odd.k % 4, odd.n % 4]).toEqual([1, 1, 2]);
    const bytes = timedShape({ m: 65536, k: 64, n: 65536 }, NVIDIA, 2 ** 20);
    expect((bytes.m * bytes.k + bytes.k * bytes.n + 2 * bytes.m * bytes.n) * 4).toBeLessThanOrEqual(2 ** 20);
  });
});
