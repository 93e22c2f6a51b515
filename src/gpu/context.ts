// GpuContext: one per device. Owns the buffer registry (every buffer we create is tracked until
// destroyed, so leaks can be counted), the compiled modules, bind group layouts and the pipeline cache,
// and turns uncaptured GPU errors and device loss into errors the caller sees.
// It records no work itself: kernels build Dispatches, and whoever owns an encoder submits them.
import { DeviceLostError, DisposedError, GpuError, GpuMemoryError } from '../errors';
import type { OpenedDevice } from './device';
import { compileShader, SHADERS, SUBGROUP_SHADERS, type ShaderName } from './shaders';
import { MatmulTuner } from './autotune';
import { defaultMatmulVariant, MATMUL_VARIANTS, SUBGROUP_WIDTH, type MatmulTile } from './kernels/matmul';

/**
 * How a binding is used by a shader: read-only storage, read-write storage, a uniform, a sampled
 * texture_2d<f32> (read with textureLoad), or a write-only rgba32float storage texture.
 */
export type BindingKind = 'read' | 'storage' | 'uniform' | 'texture' | 'storage-texture';

/** What a dispatch owns and its owner frees with it. */
export type GpuResource = GPUBuffer | GPUTexture;

/** One recorded compute dispatch: everything needed to encode it again and again without allocating. */
export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** Uniform buffer holding this dispatch's parameters (owned by whoever owns the dispatch). */
  uniform: GPUBuffer;
  /** A dispatch that must run right before this one (a matmul packing B into `texture`). */
  prologue?: Dispatch;
  /** A texture only this dispatch (and its prologue) uses, owned like `uniform`. */
  texture?: GPUTexture;
  /**
   * Instead of a prologue: rows of a buffer copied into a texture before the compute pass (a plain
   * copy, no shader). Only ctx.submit() can do it: the scheduler's steps are one pass.
   */
  upload?: { buffer: GPUBuffer; texture: GPUTexture; bytesPerRow: number; size: [number, number] };
}

/** Everything a dispatch owns: free these when the dispatch is dropped. */
export function dispatchResources(d: Dispatch): GpuResource[] {
  return [d.uniform, ...(d.texture ? [d.texture] : []), ...(d.prologue ? dispatchResources(d.prologue) : [])];
}

export function encodeDispatch(pass: GPUComputePassEncoder, d: Dispatch): void {
  if (d.upload) throw new Error(`${d.label}: a dispatch with an upload cannot be encoded inside a pass`);
  encodeCompute(pass, d);
}

/** The compute part of a dispatch: its prologue, then itself (an upload is the caller's to copy first). */
function encodeCompute(pass: GPUComputePassEncoder, d: Dispatch): void {
  if (d.prologue) encodeCompute(pass, d.prologue);
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
}

const MAX_WORKGROUPS_PER_DIM = 65535;

/** Bindings that some pipeline variants leave unused: a matmul without bias, SGD's optimizer state. */
const DUMMY_ROLES = ['bias', 'state1', 'state2'] as const;
type DummyRole = (typeof DUMMY_ROLES)[number];

/** Workgroup grid for one invocation per element (see the layout in activation.wgsl). */
export function elementwiseGrid(n: number, wg: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  return [Math.min(groups, MAX_WORKGROUPS_PER_DIM), Math.ceil(groups / MAX_WORKGROUPS_PER_DIM), 1];
}

/** Bytes to allocate for `count` f32 values: a multiple of 16 so any buffer can be bound as vec4s. */
export function paddedBytes(count: number): number {
  return Math.max(16, Math.ceil((count * 4) / 16) * 16);
}

export interface ContextOptions {
  memoryBudget?: number;
  maxStorageBufferBindingSize?: number;
  autotune?: boolean;
}

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 3 : 1)} MiB`;

export class GpuContext {
  readonly device: GPUDevice;
  readonly adapterName: string;
  readonly buffers = new Set<GPUBuffer>();
  readonly textures = new Set<GPUTexture>();
  /** Whether matmul_sg.wgsl runs here: 'subgroups' with subgroups exactly SUBGROUP_WIDTH wide. */
  readonly subgroupMatmul: boolean;
  #modules = new Map<ShaderName, GPUShaderModule>();
  #layouts = new Map<string, GPUBindGroupLayout>();
  #pipelines = new Map<string, GPUComputePipeline>();
  #dummies = new Map<string, GPUBuffer>();
  #scratch?: GPUTexture;
  #pending: Error[] = [];
  #lost?: DeviceLostError;
  #destroyed = false;
  #sizes = new Map<GpuResource, number>();
  #bytesInUse = 0;
  /** Allocations whose out-of-memory error scope has not been looked at yet. */
  #allocationChecks: Promise<GpuMemoryError | undefined>[] = [];
  /** The binding limit we honour: the adapter's, or a lower one from the options. */
  readonly bindingLimit: number;
  readonly memoryBudget: number;
  /** Picks the matmul variant per shape class, timing the candidates on this device on first use. */
  readonly tuner: MatmulTuner;

  private constructor(
    opened: OpenedDevice,
    private readonly onError?: (e: Error) => void,
    options: ContextOptions = {},
  ) {
    this.device = opened.device;
    this.adapterName = opened.adapterName;
    this.bindingLimit = Math.min(
      this.device.limits.maxStorageBufferBindingSize,
      options.maxStorageBufferBindingSize ?? Infinity,
    );
    this.memoryBudget = options.memoryBudget ?? Infinity;
    this.subgroupMatmul = opened.subgroupSize === SUBGROUP_WIDTH;
    const candidates = Object.fromEntries(Object.entries(MATMUL_VARIANTS).filter(([, t]) => this.supports(t)));
    this.tuner = new MatmulTuner(
      this,
      candidates,
      (shape) => defaultMatmulVariant(shape, this.subgroupMatmul),
      options.autotune ?? true,
    );
    this.device.addEventListener('uncapturederror', (event) => {
      const { error } = event as GPUUncapturedErrorEvent;
      const kind = error.constructor.name.replace(/^GPU/, '');
      this.report(new GpuError(`GPU ${kind}: ${error.message}`));
    });
    void this.device.lost.then((info) => {
      if (this.#destroyed) return; // we destroyed it on purpose
      this.#lost = new DeviceLostError(`the GPU device was lost (${info.reason}): ${info.message || 'no message'}`);
      this.report(this.#lost);
    });
  }

  static async create(
    opened: OpenedDevice,
    onError?: (e: Error) => void,
    options: ContextOptions = {},
  ): Promise<GpuContext> {
    const ctx = new GpuContext(opened, onError, options);
    // Compile every module up front so a WGSL error surfaces here, with file:line:col, not mid-training.
    for (const name of Object.keys(SHADERS) as ShaderName[]) {
      if (SUBGROUP_SHADERS.has(name) && !ctx.device.features.has('subgroups')) continue;
      ctx.#modules.set(name, await compileShader(ctx.device, name, SHADERS[name]));
    }
    // Made now rather than on first use, so a network's buffer count never includes the backend's own.
    for (const role of DUMMY_ROLES) ctx.dummy(role);
    return ctx;
  }

  private report(error: Error): void {
    this.#pending.push(error);
    if (this.onError) this.onError(error);
    else console.error(error);
  }

  /** Throws the first error the GPU reported since the last call, or a device loss. */
  throwPending(): void {
    if (this.#lost) throw this.#lost;
    const error = this.#pending.shift();
    if (error) throw error;
  }

  /**
   * The error to report when a GPU operation (a mapAsync) failed: DeviceLostError if the device was lost
   * (device.lost may settle a little after the failed call, so it is given a moment), else GpuError.
   */
  async failure(what: string, cause: unknown): Promise<Error> {
    if (!this.#lost) await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 1000))]);
    if (this.#lost) return this.#lost;
    return this.#pending.shift() ?? new GpuError(`${what} failed: ${(cause as Error).message}`);
  }

  get lost(): DeviceLostError | undefined {
    return this.#lost;
  }

  assertUsable(op: string): void {
    if (this.#destroyed) throw new DisposedError(`${op}: the webgpu backend was destroyed`);
    if (this.#lost) throw this.#lost;
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Whether a matmul variant can run on this device. */
  supports(tile: MatmulTile): boolean {
    return !tile.subgroup || this.subgroupMatmul;
  }

  // ---- buffers -------------------------------------------------------------------------------

  /** Bytes held by buffers and textures this context created and has not destroyed. */
  get bytesInUse(): number {
    return this.#bytesInUse;
  }

  /**
   * Checks, before anything is allocated, that each buffer fits one binding and that all of them fit
   * the memory budget; throws GpuMemoryError with the numbers otherwise. `what` names the caller.
   */
  preflight(what: string, buffers: { label: string; count: number }[]): void {
    for (const b of buffers) {
      const bytes = paddedBytes(b.count);
      if (bytes > this.bindingLimit) {
        throw new GpuMemoryError(
          `${what}: '${b.label}' needs ${bytes} bytes (${MiB(bytes)}), more than the maxStorageBufferBindingSize of ` +
            `${this.bindingLimit} bytes (${MiB(this.bindingLimit)}) one binding can see`,
        );
      }
    }
    this.#checkBudget(
      what,
      buffers.reduce((sum, b) => sum + paddedBytes(b.count), 0),
    );
  }

  #checkBudget(what: string, bytes: number): void {
    if (this.#bytesInUse + bytes > this.memoryBudget) {
      throw new GpuMemoryError(
        `${what}: needs ${MiB(bytes)} of GPU memory on top of the ${MiB(this.#bytesInUse)} in use, over the ` +
          `memoryBudget of ${MiB(this.memoryBudget)}; nothing was allocated`,
      );
    }
  }

  /**
   * Makes a buffer or texture inside an out-of-memory error scope, so a refused one is reported by label
   * and size (checkAllocations) instead of surfacing later as an anonymous uncaptured error, and counts it.
   */
  #allocate<R extends GpuResource>(label: string, bytes: number, create: () => R): R {
    this.device.pushErrorScope('out-of-memory');
    const resource = create();
    this.#allocationChecks.push(
      this.device
        .popErrorScope()
        .then((e) =>
          e ? new GpuMemoryError(`the GPU could not allocate '${label}' (${bytes} bytes): ${e.message}`) : undefined,
        ),
    );
    this.#sizes.set(resource, bytes);
    this.#bytesInUse += bytes;
    return resource;
  }

  /** Uncounts a resource this context made; false if it did not (or already forgot it). */
  #forget(resource: GpuResource): boolean {
    const bytes = this.#sizes.get(resource);
    if (bytes === undefined) return false;
    this.#bytesInUse -= bytes;
    this.#sizes.delete(resource);
    return true;
  }

  createBuffer(label: string, size: number, usage: GPUBufferUsageFlags, mappedAtCreation = false): GPUBuffer {
    if (size > this.device.limits.maxBufferSize) {
      throw new GpuMemoryError(
        `${label}: needs ${size} bytes, more than this adapter's maxBufferSize of ${this.device.limits.maxBufferSize}`,
      );
    }
    const buffer = this.#allocate(label, size, () =>
      this.device.createBuffer({ label, size, usage, mappedAtCreation }),
    );
    this.buffers.add(buffer);
    return buffer;
  }

  /** Throws the first GpuMemoryError of the allocations made since the last call. */
  async checkAllocations(): Promise<void> {
    const checks = this.#allocationChecks;
    this.#allocationChecks = [];
    const failed = (await Promise.all(checks)).find((e) => e !== undefined);
    if (failed) throw failed;
  }

  destroyBuffer(buffer: GPUBuffer): void {
    this.release(buffer);
  }

  /** A storage buffer for `count` f32 values, optionally filled with `data`. */
  storage(label: string, count: number, data?: Float32Array): GPUBuffer {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.preflight(label, [{ label, count }]);
    const bytes = paddedBytes(count);
    if (!data) return this.createBuffer(label, bytes, usage);
    const buffer = this.createBuffer(label, bytes, usage, true);
    new Float32Array(buffer.getMappedRange(), 0, data.length).set(data);
    buffer.unmap();
    return buffer;
  }

  /**
   * A width × height rgba32float texture that kernels write as a storage texture and read with
   * textureLoad. The caller keeps both sides within maxTextureDimension2D.
   */
  texture(label: string, width: number, height: number): GPUTexture {
    const bytes = width * height * 16;
    this.#checkBudget(label, bytes);
    const texture = this.#allocate(label, bytes, () =>
      this.device.createTexture({
        label,
        size: [width, height],
        format: 'rgba32float',
        usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
      }),
    );
    this.textures.add(texture);
    return texture;
  }

  /**
   * A texture of at least width × height for work that is submitted before the next request for one
   * (eager matmuls): made again only when it is too small, so eager ops skip an allocation and its
   * zero-fill each. Freed with the context.
   */
  scratchTexture(width: number, height: number): GPUTexture {
    const old = this.#scratch;
    if (old && old.width >= width && old.height >= height) return old;
    const w = Math.max(width, old?.width ?? 0);
    const h = Math.max(height, old?.height ?? 0);
    this.#scratch = this.texture('scratch.packed', w, h);
    if (old) this.release(old);
    return this.#scratch;
  }

  /** Destroys a buffer or texture this context made (either kind a dispatch may own). */
  release(resource: GpuResource): void {
    if (!this.#forget(resource)) return;
    if (resource instanceof GPUBuffer) this.buffers.delete(resource);
    else this.textures.delete(resource);
    resource.destroy();
  }

  /** A uniform buffer holding `words` (u32/f32 bit patterns); COPY_DST so per-step values can change. */
  uniform(label: string, words: ArrayBuffer): GPUBuffer {
    const buffer = this.createBuffer(
      label,
      Math.max(16, Math.ceil(words.byteLength / 16) * 16),
      GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      true,
    );
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(words));
    buffer.unmap();
    return buffer;
  }

  /** A 16-byte placeholder for bindings a pipeline variant does not use (one per role, so no aliasing). */
  dummy(role: DummyRole): GPUBuffer {
    let buffer = this.#dummies.get(role);
    if (!buffer) {
      buffer = this.createBuffer(`dummy.${role}`, 16, GPUBufferUsage.STORAGE);
      this.#dummies.set(role, buffer);
    }
    return buffer;
  }

  /** Copies `count` f32 values out of `buffer`. The only place that waits for the GPU. */
  async read(buffer: GPUBuffer, count: number, label = buffer.label): Promise<Float32Array> {
    this.assertUsable('read');
    const staging = this.createBuffer(
      `${label}.readback`,
      paddedBytes(count),
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    try {
      const encoder = this.device.createCommandEncoder({ label: `${label}.readback` });
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, paddedBytes(count));
      this.device.queue.submit([encoder.finish()]);
      try {
        await staging.mapAsync(GPUMapMode.READ);
      } catch (e) {
        throw await this.failure(`read of '${label}'`, e);
      }
      const out = new Float32Array(staging.getMappedRange(0, count * 4).slice(0));
      staging.unmap();
      this.throwPending();
      return out;
    } finally {
      this.destroyBuffer(staging);
    }
  }

  // ---- pipelines -----------------------------------------------------------------------------

  layout(kinds: BindingKind[]): GPUBindGroupLayout {
    const key = kinds.join(',');
    let layout = this.#layouts.get(key);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `layout(${key})`,
        entries: kinds.map((kind, binding): GPUBindGroupLayoutEntry => {
          const visibility = GPUShaderStage.COMPUTE;
          if (kind === 'texture') return { binding, visibility, texture: { sampleType: 'unfilterable-float' } };
          if (kind === 'storage-texture') {
            return { binding, visibility, storageTexture: { access: 'write-only', format: 'rgba32float' } };
          }
          return {
            binding,
            visibility,
            buffer: { type: kind === 'read' ? 'read-only-storage' : kind === 'storage' ? 'storage' : 'uniform' },
          };
        }),
      });
      this.#layouts.set(key, layout);
    }
    return layout;
  }

  /** The pipeline for one entry point with the given override constants; compiled once, then cached. */
  pipeline(
    shader: ShaderName,
    entryPoint: string,
    kinds: BindingKind[],
    constants: Record<string, number>,
  ): GPUComputePipeline {
    const key = `${shader}.${entryPoint}(${kinds.join(',')})${JSON.stringify(constants)}`;
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      pipeline = this.device.createComputePipeline({
        label: `${shader}.${entryPoint}.pipeline ${JSON.stringify(constants)}`,
        layout: this.device.createPipelineLayout({
          label: `${shader}.${entryPoint}.layout`,
          bindGroupLayouts: [this.layout(kinds)],
        }),
        compute: { module: this.#modules.get(shader)!, entryPoint, constants },
      });
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  bindGroup(label: string, kinds: BindingKind[], resources: (GPUBuffer | GPUTexture)[]): GPUBindGroup {
    return this.device.createBindGroup({
      label,
      layout: this.layout(kinds),
      entries: resources.map((r, binding) => ({
        binding,
        resource: r instanceof GPUBuffer ? { buffer: r } : r.createView(),
      })),
    });
  }

  /** Records dispatches in one encoder and submits them: the eager ops' path. */
  submit(label: string, dispatches: Dispatch[]): void {
    const encoder = this.device.createCommandEncoder({ label });
    for (const { upload } of dispatches) {
      if (upload) {
        encoder.copyBufferToTexture(
          { buffer: upload.buffer, bytesPerRow: upload.bytesPerRow },
          { texture: upload.texture },
          upload.size,
        );
      }
    }
    const pass = encoder.beginComputePass({ label });
    for (const d of dispatches) encodeCompute(pass, d);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const buffer of this.buffers) buffer.destroy();
    this.buffers.clear();
    for (const texture of this.textures) texture.destroy();
    this.textures.clear();
    this.#sizes.clear();
    this.#bytesInUse = 0;
    this.#dummies.clear();
    this.#pipelines.clear();
    this.device.destroy();
  }
}
