// The error classes this library throws. Every message names the operation or argument, the value it
// got and the rule it broke, so a user can fix the call without reading our source.
//
// Each class names itself with a string literal: the published bundle is minified, which renames classes,
// so `new.target.name` or `constructor.name` would give users 't' or 'n' in consoles and in their
// `err.name === 'GpuMemoryError'` checks. test/browser/errors.spec.ts checks the built dist/ file.

/** Base class: every error thrown on purpose by webgpu-backprop is an instance of this. */
export class BackpropError extends Error {
  override name = 'BackpropError';
}

/** A bad argument: wrong shape, length, type or value. Nothing was changed by the failed call. */
export class InvalidArgumentError extends BackpropError {
  override name = 'InvalidArgumentError';
}

/** A matrix, backend or network was used after dispose()/destroy(). */
export class DisposedError extends BackpropError {
  override name = 'DisposedError';
}

/** createBackend('webgpu') could not get an adapter or device; `reason` says why. */
export class WebGpuUnavailableError extends BackpropError {
  override name = 'WebGpuUnavailableError';
  constructor(readonly reason: string) {
    super(`WebGPU is unavailable: ${reason}`);
  }
}

/** A WGSL module failed to compile; the message carries the shader's name and the compiler's line:col. */
export class ShaderCompileError extends BackpropError {
  override name = 'ShaderCompileError';
}

/** An error the GPU reported on its own (validation, out of memory, internal), surfaced to the caller. */
export class GpuError extends BackpropError {
  override name = 'GpuError';
}

/**
 * Not enough GPU memory: a buffer over the adapter's binding limit, a network over the backend's
 * memoryBudget, or an allocation the GPU refused. The message gives the sizes; nothing was left half-built.
 */
export class GpuMemoryError extends BackpropError {
  override name = 'GpuMemoryError';
}

/**
 * Not enough host memory: a network or data set over what the CPU or WebAssembly backend may hold (the
 * memoryBudget, wasm32's 4 GiB or the smaller maximum the browser granted, a grow the browser refused), or
 * a network whose weights would not fit the host at all. The message gives the sizes; the checks run
 * before anything is allocated.
 */
export class HostMemoryError extends BackpropError {
  override name = 'HostMemoryError';
}

/** The GPU device was lost; work in flight and later calls reject with this. */
export class DeviceLostError extends BackpropError {
  override name = 'DeviceLostError';
}

/** Training produced a NaN or infinite loss. */
export class DivergenceError extends BackpropError {
  override name = 'DivergenceError';
}

/** Formats a value for an error message: short, and never a whole array. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return String(value);
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    return 'length' in value ? `${name}(length ${(value as unknown as ArrayLike<number>).length})` : name;
  }
  if (Array.isArray(value)) return `array(length ${value.length})`;
  if (typeof value === 'function') return 'a function';
  return Object.prototype.toString.call(value).slice(8, -1).toLowerCase();
}
