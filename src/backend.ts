// createBackend: opens a backend by kind. Each backend is a folder of its own that implements the
// Backend API and creates its own trainer; adding one means one more case here.
import { CpuBackend } from './cpu/backend';
import { WebGpuUnavailableError } from './errors';
import { GpuBackend } from './gpu/backend';
import type { Backend, BackendKind, BackendOptions, WebGpuBackend } from './types';
import { fail } from './validate';

function checkOptions(options: BackendOptions): void {
  for (const name of ['memoryBudget', 'maxStorageBufferBindingSize'] as const) {
    const v = options[name];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0))) {
      fail('createBackend', `options.${name}`, v, 'expected a number of bytes > 0');
    }
  }
}

export function createBackend(kind: 'webgpu', options?: BackendOptions): Promise<WebGpuBackend>;
export function createBackend(kind: BackendKind | 'auto', options?: BackendOptions): Promise<Backend>;
export async function createBackend(kind: BackendKind | 'auto', options: BackendOptions = {}): Promise<Backend> {
  switch (kind) {
    case 'cpu':
      checkOptions(options);
      return new CpuBackend(undefined, options.memoryBudget);
    case 'webgpu':
      checkOptions(options);
      return GpuBackend.create(options);
    case 'auto':
      checkOptions(options);
      try {
        return await GpuBackend.create(options);
      } catch (e) {
        if (!(e instanceof WebGpuUnavailableError)) throw e;
        return new CpuBackend(e.reason, options.memoryBudget);
      }
    default:
      return fail('createBackend', 'kind', kind, "expected 'webgpu', 'cpu' or 'auto'");
  }
}
