// Compiled WGSL modules, bind group layouts and pipelines of one device, each made once and cached.
// Layouts are explicit and labelled; a pipeline is specialised with override constants, never by
// editing WGSL text.
import type { BindingKind } from './dispatch';
import { compileShader, SHADERS, SUBGROUP_SHADERS, type ShaderName } from './shaders';

export class Pipelines {
  readonly #device: GPUDevice;
  readonly #modules: Map<ShaderName, GPUShaderModule>;
  readonly #layouts = new Map<string, GPUBindGroupLayout>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();

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
      pipeline = this.#device.createComputePipeline({
        label: `${shader}.${entryPoint}.pipeline ${JSON.stringify(constants)}`,
        layout: this.#device.createPipelineLayout({
          label: `${shader}.${entryPoint}.layout`,
          bindGroupLayouts: [this.layout(kinds)],
        }),
        compute: { module: this.#modules.get(shader) as GPUShaderModule, entryPoint, constants },
      });
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
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
