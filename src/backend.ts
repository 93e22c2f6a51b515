// createBackend: picks and opens a backend. 'auto' tries WebGPU and falls back to the CPU, recording why.
import type { Backend, BackendKind, BackendOptions } from './types';
import { CpuBackend } from './cpu/backend';
import { GpuBackend } from './gpu/backend';
import { WebGpuUnavailableError } from './errors';
import { fail } from './validate';

export async function createBackend(kind: BackendKind | 'auto', options: BackendOptions = {}): Promise<Backend> {
  switch (kind) {
    case 'cpu':
      return new CpuBackend();
    case 'webgpu':
      return GpuBackend.create(options);
    case 'auto':
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
