// Made-up adapters for the matmul policy and tuner tests: the traits that real ones report (limits from
// Chrome's tiers, subgroup sizes as Dawn reports them), no GPU needed.
import { type AdapterInfoLike, type AdapterTraits, adapterTraits, type LimitsLike } from '../../src/gpu/traits';

const KiB = 1024;

function adapter(info: AdapterInfoLike, limits: Partial<LimitsLike>, subgroups = true): AdapterTraits {
  const full: LimitsLike = {
    maxComputeWorkgroupStorageSize: 16 * KiB,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
    maxComputeWorkgroupSizeY: 256,
    ...limits,
  };
  return adapterTraits(info, full, { subgroups, timestamps: true });
}

const big = { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupSizeY: 1024 };

/** An Apple M-series GPU through Metal: 32-wide SIMD groups, 32 KiB of threadgroup memory. */
export const APPLE = adapter(
  { vendor: 'apple', architecture: 'metal-3', subgroupMinSize: 32, subgroupMaxSize: 32 },
  { maxComputeWorkgroupStorageSize: 32 * KiB, ...big },
);
/** An NVIDIA GPU through Vulkan or D3D12: warps of 32, 48 KiB of shared memory. */
export const NVIDIA = adapter(
  { vendor: 'nvidia', architecture: 'ampere', subgroupMinSize: 32, subgroupMaxSize: 32 },
  { maxComputeWorkgroupStorageSize: 48 * KiB, ...big },
);
/** An AMD RDNA GPU: wave32 or wave64, the compiler's choice; 64 KiB of LDS. */
export const AMD = adapter(
  { vendor: 'amd', architecture: 'rdna-3', subgroupMinSize: 32, subgroupMaxSize: 64 },
  { maxComputeWorkgroupStorageSize: 64 * KiB, ...big },
);
/** A phone GPU at Chrome's baseline tier: 16 KiB, 256 invocations, waves of 64 or 128. */
export const ADRENO = adapter(
  { vendor: 'qualcomm', architecture: 'adreno-7xx', subgroupMinSize: 64, subgroupMaxSize: 128 },
  {},
);
/** Chromium's software adapter as it reports itself here: subgroups of 4 (one CPU SIMD register). */
export const SWIFTSHADER = adapter(
  {
    vendor: 'google',
    architecture: 'swiftshader',
    description: 'SwiftShader Device (Subzero)',
    subgroupMinSize: 4,
    subgroupMaxSize: 4,
  },
  { maxComputeWorkgroupStorageSize: 32 * KiB, ...big },
);
/** The same without the 'subgroups' feature. */
export const SWIFTSHADER_NO_SUBGROUPS = adapter(
  { vendor: 'google', architecture: 'swiftshader', subgroupMinSize: 4, subgroupMaxSize: 4 },
  { maxComputeWorkgroupStorageSize: 32 * KiB, ...big },
  false,
);
/** An adapter that says it is the fallback one, with a name we do not know. */
export const UNNAMED_FALLBACK = adapter({ vendor: 'someone', isFallbackAdapter: true }, {});

export const HARDWARE = { APPLE, NVIDIA, AMD, ADRENO } as const;
