// webgpu-backprop: train fully connected networks by backpropagation on the GPU with WebGPU.
// Public API only; see DESIGN.md for the contract.
export { createBackend } from './backend';
export {
  BackpropError,
  DeviceLostError,
  DisposedError,
  DivergenceError,
  GpuError,
  GpuMemoryError,
  HostMemoryError,
  InvalidArgumentError,
  ShaderCompileError,
  WebGpuUnavailableError,
} from './errors';
export { Network } from './network';
export type { EpochInfo, FitHistory, FitOptions, NetworkSpec, OptimizerSpec } from './spec';
export type { DataMode, FitPlan, FitPlanRequest, LayerParams, Loss, Metrics } from './trainer';
export type {
  Activation,
  AutoOptions,
  Backend,
  BackendKind,
  BackendLimits,
  BackendOptions,
  MatmulOptions,
  Matrix,
  TuningStats,
  WasmBackend,
  WasmBackendInfo,
  WebGpuBackend,
} from './types';
