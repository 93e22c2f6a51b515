// webgpu-backprop: train fully connected networks by backpropagation on the GPU with WebGPU.
// Public API only; see DESIGN.md for the contract.
export { createBackend } from './backend';
export type {
  Activation, Backend, BackendKind, BackendLimits, BackendOptions, MatmulOptions, Matrix,
} from './types';
export {
  BackpropError, DeviceLostError, DisposedError, DivergenceError, GpuError, InvalidArgumentError,
  ShaderCompileError, WebGpuUnavailableError,
} from './errors';
