// Opening a WebGPU device: finds the adapter, asks for its largest buffer limits, and when any step fails
// says exactly which one in a WebGpuUnavailableError. It does not create buffers or pipelines.
import { WebGpuUnavailableError } from '../errors';
import { type AdapterInfoLike, type AdapterTraits, adapterTraits } from './traits';

export interface OpenedDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** "vendor architecture device description", as far as the adapter tells. */
  adapterName: string;
  /** The subgroup width when the device has 'subgroups' and the adapter reports one fixed width. */
  subgroupSize?: number;
  /** What the matmul policy goes by (matmul_variants.ts). */
  traits: AdapterTraits;
}

/** The limits we raise to the adapter's maximum: big layers need big buffers and bindings. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBuffersPerShaderStage',
] as const;

export async function openDevice(powerPreference?: GPUPowerPreference): Promise<OpenedDevice> {
  const gpu = typeof navigator === 'undefined' ? undefined : navigator.gpu;
  if (!gpu) {
    const secure = typeof isSecureContext === 'boolean' ? isSecureContext : false;
    throw new WebGpuUnavailableError(
      secure
        ? 'navigator.gpu is missing: this browser has no WebGPU (in Chromium, try --enable-unsafe-webgpu)'
        : 'navigator.gpu is missing: WebGPU needs a secure context (https:// or http://127.0.0.1 / localhost)',
    );
  }
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(powerPreference ? { powerPreference } : undefined);
  } catch (e) {
    throw new WebGpuUnavailableError(`requestAdapter() threw: ${(e as Error).message}`);
  }
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'requestAdapter() returned null: no suitable GPU adapter (is WebGPU blocklisted or disabled?)',
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  if (adapter.features.has('subgroups')) requiredFeatures.push('subgroups');
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: 'webgpu-backprop', requiredLimits, requiredFeatures });
  } catch (e) {
    throw new WebGpuUnavailableError(`requestDevice() failed: ${(e as Error).message}`);
  }
  const info = adapter.info;
  const adapterName =
    [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0).join(' ') ||
    'unknown adapter';
  const subgroupSize =
    device.features.has('subgroups') &&
    info.subgroupMinSize !== undefined &&
    info.subgroupMinSize === info.subgroupMaxSize
      ? info.subgroupMinSize
      : undefined;
  const traits = adapterTraits(info as AdapterInfoLike, device.limits, {
    subgroups: device.features.has('subgroups'),
    timestamps: device.features.has('timestamp-query'),
  });
  return { adapter, device, adapterName, subgroupSize, traits };
}
