// What the matmul policy (matmul_variants.ts) needs to know about an adapter, as plain data: its limits,
// subgroup sizes, whether it is a software adapter, and who made it. Pure: reads plain objects shaped
// like GPUAdapterInfo and GPUSupportedLimits, so the policy can be tested in Node with made-up adapters.
// It opens nothing (device.ts does).

export interface AdapterTraits {
  /** GPUAdapterInfo.vendor / .architecture / .description, lower case ('' when not reported). */
  vendor: string;
  architecture: string;
  description: string;
  /** A software adapter (SwiftShader, llvmpipe, WARP…): the CPU runs the shaders. */
  software: boolean;
  /** The subgroup sizes the device may run with, where it has the 'subgroups' feature. */
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** Device limits. */
  maxWorkgroupStorage: number;
  maxInvocations: number;
  maxWorkgroupSizeX: number;
  maxWorkgroupSizeY: number;
  /** The device has 'timestamp-query'. */
  timestamps: boolean;
}

/** The fields of GPUAdapterInfo we read (isFallbackAdapter is newer than some typings). */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  isFallbackAdapter?: boolean;
}

export interface LimitsLike {
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
}

/** Names of software rasterisers as adapters report them. */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/;

/** Whether an adapter runs on the CPU: it says so (isFallbackAdapter), or its name is a known one. */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  if (info.isFallbackAdapter) return true;
  const text = [info.vendor, info.architecture, info.device, info.description].join(' ').toLowerCase();
  return SOFTWARE.test(text);
}

export function adapterTraits(
  info: AdapterInfoLike,
  limits: LimitsLike,
  features: { subgroups: boolean; timestamps: boolean },
): AdapterTraits {
  const lower = (s?: string) => (s ?? '').toLowerCase();
  return {
    vendor: lower(info.vendor),
    architecture: lower(info.architecture),
    description: lower(info.description),
    software: isSoftwareAdapter(info),
    subgroupMinSize: features.subgroups ? info.subgroupMinSize : undefined,
    subgroupMaxSize: features.subgroups ? info.subgroupMaxSize : undefined,
    maxWorkgroupStorage: limits.maxComputeWorkgroupStorageSize,
    maxInvocations: limits.maxComputeInvocationsPerWorkgroup,
    maxWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
    maxWorkgroupSizeY: limits.maxComputeWorkgroupSizeY,
    timestamps: features.timestamps,
  };
}

/**
 * A guess at how many compute units (NVIDIA SMs, AMD CUs, Apple GPU cores, Intel Xe cores) the adapter
 * has: WebGPU does not say, so it goes by vendor, at the lower middle of each vendor's range (a guess too
 * low costs a little occupancy on big GPUs; one too high would split work that a small GPU cannot
 * overlap anyway). Only the occupancy estimate below uses it.
 */
export function estimatedComputeUnits(t: AdapterTraits): number {
  if (t.software) return 2;
  const who = `${t.vendor} ${t.architecture} ${t.description}`;
  if (/nvidia/.test(who)) return 40;
  if (/\bamd\b|\bati\b|radeon/.test(who)) return 32;
  if (/intel/.test(who)) return 24;
  if (/apple/.test(who)) return 10;
  if (/qualcomm|adreno|\barm\b|mali|imagination|powervr|samsung/.test(who)) return 4;
  return 16;
}

/**
 * Workgroups a dispatch should have for the GPU not to sit partly idle: two per compute unit, so each
 * unit has one to switch to while another waits on memory.
 */
export function targetWorkgroups(t: AdapterTraits): number {
  return 2 * estimatedComputeUnits(t);
}

/** The subgroup width when the device runs every subgroup at one fixed width. */
export function fixedSubgroupSize(t: AdapterTraits): number | undefined {
  return t.subgroupMinSize !== undefined && t.subgroupMinSize === t.subgroupMaxSize ? t.subgroupMinSize : undefined;
}
