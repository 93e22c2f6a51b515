// GpuContext: one per device. Owns the buffer registry (every buffer and texture we create is tracked
// until destroyed, so leaks can be counted and memoryBudget enforced), the compiled modules, bind group
// layouts and the pipeline cache, and turns uncaptured GPU errors and device loss into errors the
// caller sees. It knows no kernel: kernels build Recordings, and whoever owns an encoder submits them;
// the context itself submits only its small helpers' work (submit, read).
import { DeviceLostError, DisposedError, GpuError, GpuMemoryError } from '../errors';
import type { OpenedDevice } from './device';
import { type BindingKind, encodeDispatch, type GpuResource, paddedBytes, type Recording } from './dispatch';
import { Pipelines } from './pipelines';
import type { ShaderName } from './shaders';
import type { AdapterTraits } from './traits';

/** Bindings that some pipeline variants leave unused: a matmul without bias, SGD's optimizer state. */
const DUMMY_ROLES = ['bias', 'state1', 'state2'] as const;
type DummyRole = (typeof DUMMY_ROLES)[number];

/** A buffer to make: its label, its size in f32 values and optionally its initial values. */
export interface BufferSpec {
  label: string;
  count: number;
  data?: Float32Array;
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
  /** The subgroup width when the device has 'subgroups' and the adapter reports one fixed width. */
  readonly subgroupSize?: number;
  /** The adapter as the matmul policy sees it (traits.ts). */
  readonly traits: AdapterTraits;
  readonly #pipelines: Pipelines;
  #dummies = new Map<string, GPUBuffer>();
  #scratch?: GPUTexture;
  #pending: Error[] = [];
  #lost?: DeviceLostError;
  #destroyed = false;
  #sizes = new Map<GpuResource, number>();
  #bytesInUse = 0;
  /** Allocations whose out-of-memory error scope has not been looked at yet. */
  /** Out-of-memory checks of allocations not yet checked, by resource; claimed ones are their owner's. */
  #allocationChecks = new Map<GpuResource, Promise<GpuMemoryError | undefined>>();
  #claimedChecks = new Map<GpuResource, Promise<GpuMemoryError | undefined>>();
  /** The binding limit we honour: the adapter's, or a lower one from the options. */
  readonly bindingLimit: number;
  readonly memoryBudget: number;

  private constructor(
    opened: OpenedDevice,
    pipelines: Pipelines,
    private readonly onError?: (e: Error) => void,
    options: ContextOptions = {},
  ) {
    this.device = opened.device;
    this.#pipelines = pipelines;
    this.adapterName = opened.adapterName;
    this.bindingLimit = Math.min(
      this.device.limits.maxStorageBufferBindingSize,
      options.maxStorageBufferBindingSize ?? Infinity,
    );
    this.memoryBudget = options.memoryBudget ?? Infinity;
    this.subgroupSize = opened.subgroupSize;
    this.traits = opened.traits;
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
    // Every module is compiled up front so a WGSL error surfaces here, with file:line:col, not mid-training.
    const ctx = new GpuContext(opened, await Pipelines.compile(opened.device), onError, options);
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

  // ---- buffers -------------------------------------------------------------------------------

  /** Bytes held by buffers and textures this context created and has not destroyed. */
  get bytesInUse(): number {
    return this.#bytesInUse;
  }

  /** Bytes held by these resources (those this context made and has not destroyed). */
  bytesOf(resources: Iterable<GpuResource>): number {
    let sum = 0;
    for (const r of resources) sum += this.#sizes.get(r) ?? 0;
    return sum;
  }

  /**
   * Checks, before anything is allocated, that each buffer fits one binding and that all of them fit
   * the memory budget; throws GpuMemoryError with the numbers otherwise. `what` names the caller.
   */
  preflight(what: string, buffers: readonly { label: string; count: number }[]): void {
    for (const b of buffers) {
      const bytes = paddedBytes(b.count);
      if (bytes > this.bindingLimit) {
        throw new GpuMemoryError(
          `${what}: '${b.label}' needs ${bytes} bytes (${MiB(bytes)}), more than the maxStorageBufferBindingSize of ` +
            `${this.bindingLimit} bytes (${MiB(this.bindingLimit)}) one binding can see`,
        );
      }
    }
    this.checkBudget(
      what,
      buffers.reduce((sum, b) => sum + paddedBytes(b.count), 0),
    );
  }

  /** Throws GpuMemoryError when `bytes` more would take this context over its memoryBudget. */
  checkBudget(what: string, bytes: number): void {
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
    this.#allocationChecks.set(
      resource,
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
    this.#allocationChecks.delete(resource);
    this.#claimedChecks.delete(resource);
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

  /**
   * Takes these resources' allocation checks out of the shared ones, for checkAllocations(resources): work
   * that allocates in the background (the matmul tuner) claims its own at once, so that the trainer's
   * checks never report the tuner's failures, nor swallow them before the tuner looks.
   */
  claimAllocations(resources: Iterable<GpuResource>): void {
    for (const r of resources) {
      const check = this.#allocationChecks.get(r);
      if (!check) continue;
      this.#allocationChecks.delete(r);
      this.#claimedChecks.set(r, check);
    }
  }

  /**
   * Throws the first GpuMemoryError among the given (claimed or not) resources' allocations or, with none
   * given, among all unclaimed ones made since the last call. Each check is taken once.
   */
  async checkAllocations(resources?: Iterable<GpuResource>): Promise<void> {
    let checks: Promise<GpuMemoryError | undefined>[];
    if (resources) {
      checks = [];
      for (const r of resources) {
        const check = this.#claimedChecks.get(r) ?? this.#allocationChecks.get(r);
        if (check) checks.push(check);
        this.#claimedChecks.delete(r);
        this.#allocationChecks.delete(r);
      }
    } else {
      checks = [...this.#allocationChecks.values()];
      this.#allocationChecks.clear();
    }
    const failed = (await Promise.all(checks)).find((e) => e !== undefined);
    if (failed) throw failed;
  }

  /** A storage buffer for `count` f32 values, optionally filled with `data`. */
  storage(label: string, count: number, data?: Float32Array): GPUBuffer {
    return this.allocate(label, [{ label, count, data }])[0];
  }

  /**
   * Storage buffers for every spec, checked together first (preflight) so that one list describes both
   * what is checked and what is made; if any allocation throws, the ones already made are freed.
   */
  allocate(what: string, specs: readonly BufferSpec[]): GPUBuffer[] {
    this.preflight(what, specs);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const made: GPUBuffer[] = [];
    try {
      for (const { label, count, data } of specs) {
        const buffer = this.createBuffer(label, paddedBytes(count), usage, data !== undefined);
        made.push(buffer);
        if (data) {
          new Float32Array(buffer.getMappedRange(), 0, data.length).set(data);
          buffer.unmap();
        }
      }
    } catch (e) {
      for (const b of made) this.release(b);
      throw e;
    }
    return made;
  }

  /**
   * A width × height rgba32float texture that kernels write as a storage texture and read with
   * textureLoad. The caller keeps both sides within maxTextureDimension2D.
   */
  texture(label: string, width: number, height: number): GPUTexture {
    const bytes = width * height * 16;
    this.checkBudget(label, bytes);
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

  /** Copies `count` f32 values out of `buffer` (a submit and a map: it waits for the GPU). */
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
      this.release(staging);
    }
  }

  // ---- pipelines (pipelines.ts) ---------------------------------------------------------------

  /** The pipeline for one entry point with the given override constants; compiled once, then cached. */
  pipeline(shader: ShaderName, entryPoint: string, kinds: BindingKind[], constants: Record<string, number>) {
    return this.#pipelines.pipeline(shader, entryPoint, kinds, constants);
  }

  /** Compiles what `dryRun` would ask for off the queue's path first (Pipelines.precompile). */
  precompile(dryRun: () => void): Promise<void> {
    return this.#pipelines.precompile(dryRun);
  }

  bindGroup(label: string, kinds: BindingKind[], resources: (GPUBuffer | GPUTexture)[]): GPUBindGroup {
    return this.#pipelines.bindGroup(label, kinds, resources);
  }

  /** Records the recordings in one encoder (their texture copies first, then one pass) and submits. */
  submit(label: string, recordings: Recording[]): void {
    const encoder = this.device.createCommandEncoder({ label });
    for (const copy of recordings.flatMap((r) => r.copies)) {
      if ('texture' in copy) {
        const { buffer, bytesPerRow, texture, size } = copy;
        encoder.copyBufferToTexture({ buffer, bytesPerRow }, { texture }, size);
      } else {
        encoder.copyBufferToBuffer(copy.source, 0, copy.target, 0, copy.bytes);
      }
    }
    const pass = encoder.beginComputePass({ label });
    for (const d of recordings.flatMap((r) => r.dispatches)) encodeDispatch(pass, d);
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
    this.device.destroy();
  }
}
