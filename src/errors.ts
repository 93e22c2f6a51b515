// The error classes this library throws. Every message names the operation or argument, the value it
// got and the rule it broke, so a user can fix the call without reading our source.

/** Base class: every error thrown on purpose by webgpu-backprop is an instance of this. */
export class BackpropError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad argument: wrong shape, length, type or value. Nothing was changed by the failed call. */
export class InvalidArgumentError extends BackpropError {}

/** A matrix, backend or network was used after dispose()/destroy(). */
export class DisposedError extends BackpropError {}

/** createBackend('webgpu') could not get an adapter or device; `reason` says why. */
export class WebGpuUnavailableError extends BackpropError {
  constructor(readonly reason: string) {
    super(`WebGPU is unavailable: ${reason}`);
  }
}

/** A WGSL module failed to compile; the message carries the shader's name and the compiler's line:col. */
export class ShaderCompileError extends BackpropError {}

/** An error the GPU reported on its own (validation, out of memory, internal), surfaced to the caller. */
export class GpuError extends BackpropError {}

/**
 * Not enough GPU memory: a buffer over the adapter's binding limit, a network over the backend's
 * memoryBudget, or an allocation the GPU refused. The message gives the sizes; nothing was left half-built.
 */
export class GpuMemoryError extends BackpropError {}

/**
 * Not enough WebAssembly memory: an allocation that would take the wasm backend's memory past wasm32's
 * 4 GiB (or the smaller maximum the browser granted), or a grow the browser refused. The message gives
 * the sizes; the check runs before anything is allocated.
 */
export class WasmMemoryError extends BackpropError {
  constructor(message: string) {
    super(message);
    this.name = 'WasmMemoryError';
  }
}

/** The GPU device was lost; work in flight and later calls reject with this. */
export class DeviceLostError extends BackpropError {}

/** Training produced a NaN or infinite loss. */
export class DivergenceError extends BackpropError {}

/** Formats a value for an error message: short, and never a whole array. */
export function describe(value: unknown): string {
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
