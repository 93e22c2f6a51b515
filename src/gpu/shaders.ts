// The WGSL modules, loaded as text from shaders/*.wgsl, and their compilation with readable errors.
// A module may list WGSL files it needs (shared functions); they are placed in front of it, and
// compiler positions are mapped back to the file they came from.
import { ShaderCompileError } from '../errors';
import activationFns from '../../shaders/activation_fns.wgsl?raw';
import activation from '../../shaders/activation.wgsl?raw';
import biasGrad from '../../shaders/bias_grad.wgsl?raw';
import columns from '../../shaders/columns.wgsl?raw';
import gather from '../../shaders/gather.wgsl?raw';
import matmul from '../../shaders/matmul.wgsl?raw';
import matmulSg from '../../shaders/matmul_sg.wgsl?raw';
import matmulTiled from '../../shaders/matmul_tiled.wgsl?raw';
import mse from '../../shaders/mse.wgsl?raw';
import optimizer from '../../shaders/optimizer.wgsl?raw';
import pack from '../../shaders/pack.wgsl?raw';
import softmax from '../../shaders/softmax.wgsl?raw';

interface Source {
  file: string;
  code: string;
}

const fns: Source = { file: 'activation_fns.wgsl', code: activationFns };

export const SHADERS = {
  activation: [fns, { file: 'activation.wgsl', code: activation }],
  bias_grad: [{ file: 'bias_grad.wgsl', code: biasGrad }],
  columns: [{ file: 'columns.wgsl', code: columns }],
  gather: [{ file: 'gather.wgsl', code: gather }],
  matmul: [fns, { file: 'matmul.wgsl', code: matmul }],
  // Its `enable subgroups;` must come first; it reuses matmul.wgsl's tile registers, multiply and store.
  matmul_sg: [{ file: 'matmul_sg.wgsl', code: matmulSg }, fns, { file: 'matmul.wgsl', code: matmul }],
  // Reuses matmul.wgsl's constants, bindings a, b, params and its epilogue.
  matmul_tiled: [fns, { file: 'matmul.wgsl', code: matmul }, { file: 'matmul_tiled.wgsl', code: matmulTiled }],
  mse: [fns, { file: 'mse.wgsl', code: mse }],
  optimizer: [{ file: 'optimizer.wgsl', code: optimizer }],
  pack: [{ file: 'pack.wgsl', code: pack }],
  softmax: [{ file: 'softmax.wgsl', code: softmax }],
} satisfies Record<string, Source[]>;

export type ShaderName = keyof typeof SHADERS;

/** Modules that only compile on a device with the 'subgroups' feature. */
export const SUBGROUP_SHADERS: ReadonlySet<ShaderName> = new Set(['matmul_sg']);

/** Maps a line of the joined module back to "file:line". */
function locate(parts: Source[], line: number): string {
  let first = 1;
  for (const part of parts) {
    const lines = part.code.split('\n').length;
    if (line < first + lines) return `${part.file}:${line - first + 1}`;
    first += lines;
  }
  return `${parts[parts.length - 1].file}:${line}`;
}

/** Compiles a module and throws ShaderCompileError with file:line:col for every error the compiler reports. */
export async function compileShader(device: GPUDevice, name: string, parts: Source[]): Promise<GPUShaderModule> {
  const code = parts.map((p) => p.code).join('\n');
  const module = device.createShaderModule({ label: `${name}.module`, code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) {
    const lines = errors.map((m) => `${locate(parts, m.lineNum)}:${m.linePos}: ${m.message}`);
    throw new ShaderCompileError(`shader '${name}' failed to compile:\n${lines.join('\n')}`);
  }
  return module;
}
