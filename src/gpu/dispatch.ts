// The bottom of the GPU layers: what a recorded dispatch is, how it is encoded, and the grid and size
// helpers every kernel uses. Imports nothing from the rest of src/gpu/, so every module may import it.

/**
 * How a binding is used by a shader: read-only storage, read-write storage, a uniform, a sampled
 * texture_2d<f32> (read with textureLoad), or a write-only rgba32float storage texture.
 */
export type BindingKind = 'read' | 'storage' | 'uniform' | 'texture' | 'storage-texture';

/** What a recording owns and its owner frees with it. */
export type GpuResource = GPUBuffer | GPUTexture;

/** One compute dispatch, recorded once and encoded again and again without allocating. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** The uniform buffer holding this dispatch's parameters, owned by whoever owns the dispatch. */
  uniform: GPUBuffer;
}

/** A buffer's rows copied into a texture before a compute pass (a plain copy instead of a pack shader). */
export interface TextureCopy {
  buffer: GPUBuffer;
  texture: GPUTexture;
  bytesPerRow: number;
  size: [number, number];
}

/** A buffer's first bytes copied into another before a compute pass. */
export interface BufferCopy {
  source: GPUBuffer;
  target: GPUBuffer;
  bytes: number;
}

/**
 * What a kernel wrapper records: dispatches to encode in order inside one pass, the textures and
 * scratch buffers it made for them (freed with it), and copies that must run before the pass (eager ops
 * only: a training step is one pass).
 */
export interface Recording {
  dispatches: Dispatch[];
  textures: GPUTexture[];
  copies: (TextureCopy | BufferCopy)[];
  /** Buffers only its own dispatches use (a split-K matmul's partial products). */
  scratch?: GPUBuffer[];
}

export function recording(...dispatches: Dispatch[]): Recording {
  return { dispatches, textures: [], copies: [] };
}

/** Everything a recording owns: free these when it is dropped. */
export function recordingResources(r: Recording): GpuResource[] {
  return [...r.dispatches.map((d) => d.uniform), ...r.textures, ...(r.scratch ?? [])];
}

export function encodeDispatch(pass: GPUComputePassEncoder, d: Dispatch): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
}

export const MAX_WORKGROUPS_PER_DIM = 65535;

/** Workgroup grid for one invocation per element (see the layout in activation.wgsl). */
export function elementwiseGrid(n: number, wg: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  return [Math.min(groups, MAX_WORKGROUPS_PER_DIM), Math.ceil(groups / MAX_WORKGROUPS_PER_DIM), 1];
}

/** Bytes to allocate for `count` f32 values: a multiple of 16 so any buffer can be bound as vec4s. */
export function paddedBytes(count: number): number {
  return Math.max(16, Math.ceil((count * 4) / 16) * 16);
}

/** The same power-of-two rule the reduction shaders (mse.wgsl, bias_grad.wgsl) rely on, checked where set. */
export function assertPowerOfTwo(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || (value & (value - 1)) !== 0) {
    throw new Error(`${name} is ${value}: the tree reduction needs a power of two`);
  }
  return value;
}
