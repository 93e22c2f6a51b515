// createBackend: picks and opens a backend. 'auto' tries WebGPU and falls back to the CPU, recording why.
import type { Backend, BackendKind, BackendOptions } from './types';
import { CpuBackend } from './cpu/backend';
import { GpuBackend } from './gpu/backend';
import { WebGpuUnavailableError } from './errors';
import { fail } from './validate';

function checkOptions(options: BackendOptions): void {
  for (const name of ['memoryBudget', 'maxStorageBufferBindingSize'] as const) {
    const v = options[name];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0)))
      fail('createBackend', `options.${name}`, v, 'expected a number of bytes > 0');
  }
}

export async function createBackend(kind: BackendKind | 'auto', options: BackendOptions = {}): Promise<Backend> {
  switch (kind) {
    case 'cpu':
      return new CpuBackend();
    case 'webgpu':
      checkOptions(options);
      return GpuBackend.create(options);
    case 'auto':
      checkOptions(options);
      try {
        return await GpuBackend.create(options);
      } catch (e) {
        if (!(e instanceof WebGpuUnavailableError)) throw e;
        return new CpuBackend(e.reason);
      }
    default:
      return fail('createBackend', 'kind', kind, "expected 'webgpu', 'cpu' or 'auto'");
  }
}
