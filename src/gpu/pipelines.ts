// Compiled WGSL modules, bind group layouts and pipelines of one device, each made once and cached.
// Layouts are explicit and labelled; a pipeline is specialised with override constants, never by
// editing WGSL text.
import type { BindingKind } from './dispatch';
import { compileShader, SHADERS, SUBGROUP_SHADERS, type ShaderName } from './shaders';

/** What a dry run's dispatches hold in place of a pipeline (precompile): never encoded. */
const NOT_COMPILED = {} as GPUComputePipeline;

export class Pipelines {
  readonly #device: GPUDevice;
  readonly #modules: Map<ShaderName, GPUShaderModule>;
  readonly #layouts = new Map<string, GPUBindGroupLayout>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  /** While precompile() runs its dry run: the pipelines asked for that are not compiled yet. */
  #wanted?: Map<string, () => GPUComputePipelineDescriptor>;

  private constructor(device: GPUDevice, modules: Map<ShaderName, GPUShaderModule>) {
    this.#device = device;
    this.#modules = modules;
  }

  /** Compiles every module the device can run; a WGSL error throws ShaderCompileError with file:line:col. */
  static async compile(device: GPUDevice): Promise<Pipelines> {
    const modules = new Map<ShaderName, GPUShaderModule>();
    for (const name of Object.keys(SHADERS) as ShaderName[]) {
      if (SUBGROUP_SHADERS.has(name) && !device.features.has('subgroups')) continue;
      modules.set(name, await compileShader(device, name, SHADERS[name]));
    }
    return new Pipelines(device, modules);
  }

  layout(kinds: BindingKind[]): GPUBindGroupLayout {
    const key = kinds.join(',');
    let layout = this.#layouts.get(key);
    if (!layout) {
      layout = this.#device.createBindGroupLayout({
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

  #descriptor(shader: ShaderName, entryPoint: string, kinds: BindingKind[], constants: Record<string, number>) {
    return {
      label: `${shader}.${entryPoint}.pipeline ${JSON.stringify(constants)}`,
      layout: this.#device.createPipelineLayout({
        label: `${shader}.${entryPoint}.layout`,
        bindGroupLayouts: [this.layout(kinds)],
      }),
      compute: { module: this.#modules.get(shader) as GPUShaderModule, entryPoint, constants },
    };
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
    if (!pipeline && this.#wanted) {
      this.#wanted.set(key, () => this.#descriptor(shader, entryPoint, kinds, constants));
      return NOT_COMPILED;
    }
    if (!pipeline) {
      pipeline = this.#device.createComputePipeline(this.#descriptor(shader, entryPoint, kinds, constants));
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /**
   * Compiles the pipelines that `dryRun` asks for with createComputePipelineAsync, which does not hold
   * up work already queued (a tuner compiling candidates while a network trains), and caches them.
   * `dryRun` builds its dispatches once to find out which pipelines they need; what it builds holds no
   * real pipelines and must be thrown away (dryRun frees it). Rejects, reporting nothing to the device's
   * error handler, where a pipeline fails to compile.
   */
  async precompile(dryRun: () => void): Promise<void> {
    const wanted = new Map<string, () => GPUComputePipelineDescriptor>();
    this.#wanted = wanted;
    try {
      dryRun();
    } finally {
      this.#wanted = undefined;
    }
    await Promise.all(
      [...wanted].map(async ([key, descriptor]) => {
        const pipeline = await this.#device.createComputePipelineAsync(descriptor());
        this.#pipelines.set(key, pipeline);
      }),
    );
  }

  bindGroup(label: string, kinds: BindingKind[], resources: (GPUBuffer | GPUTexture)[]): GPUBindGroup {
    return this.#device.createBindGroup({
      label,
      layout: this.layout(kinds),
      entries: resources.map((r, binding) => ({
        binding,
        resource: r instanceof GPUBuffer ? { buffer: r } : r.createView(),
      })),
    });
  }
}
