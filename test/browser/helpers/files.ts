// Untrusted saved files on WebGPU: the fuzz of test/shared/saved_files.ts with the GPU's live buffers
// counted, and a 10⁹-unit layer refused before anything is allocated.
import * as WB from '../../../src/index';
import { fuzzSavedFiles } from '../../shared/saved_files';
import { counters, liveBuffers } from './counters';
import { gpuBackend } from './ops';

export async function fuzzFilesOnGpu(runs: number, seed: number) {
  return fuzzSavedFiles(WB, await gpuBackend(), runs, seed, liveBuffers);
}

/**
 * new Network and fromJSON with a layer of 10⁹ units on WebGPU: the errors, the buffers the two networks
 * made (none may be), and those made in all (the third attempt opens a backend of its own).
 */
export async function hugeLayerOnGpu() {
  const backend = await gpuBackend();
  const small = new WB.Network(backend, { inputSize: 4, layers: [{ units: 3, activation: 'relu' }] });
  const file = JSON.parse(JSON.stringify(small));
  small.destroy();
  file.layers[0].units = 1e9;
  const errors: string[] = [];
  const attempt = async (f: () => unknown) => {
    try {
      await f();
      errors.push('no error');
    } catch (e) {
      errors.push(`${(e as Error).name}: ${(e as Error).message}`);
    }
  };
  const made = counters.buffersCreated;
  await attempt(() => new WB.Network(backend, { inputSize: 4, layers: [{ units: 1e9, activation: 'relu' }] }));
  await attempt(() => WB.Network.fromJSON(backend, file));
  const byNetworks = counters.buffersCreated - made;
  // Within the host's limit but not the GPU budget: the backend's own check.
  await attempt(async () => {
    const tight = await WB.createBackend('webgpu', { memoryBudget: 2 ** 20, autotune: false });
    try {
      WB.Network.fromJSON(tight, { ...file, layers: [{ units: 100_000, activation: 'relu' }] });
    } finally {
      tight.destroy();
    }
  });
  return { errors, byNetworks, made: counters.buffersCreated - made };
}
