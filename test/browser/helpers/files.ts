// Untrusted saved files on WebGPU: the fuzz of test/shared/saved_files.ts with the GPU's live buffers
// counted, and a 10⁹-unit layer refused before anything is allocated.
import * as WB from '../../../src/index';
import { fuzzSavedFiles } from '../../shared/saved_files';
import { counters, liveBuffers } from './counters';
import { gpuBackend } from './ops';

export async function fuzzFilesOnGpu(runs: number, seed: number) {
  return fuzzSavedFiles(WB, await gpuBackend(), runs, seed, liveBuffers);
}

/** new Network and fromJSON with a layer of 10⁹ units on WebGPU: the errors, and buffers made meanwhile. */
export async function hugeLayerOnGpu() {
  const backend = await gpuBackend();
  const small = new WB.Network(backend, { inputSize: 4, layers: [{ units: 3, activation: 'relu' }] });
  const file = JSON.parse(JSON.stringify(small));
  small.destroy();
  file.layers[0].units = 1e9;
  const made = counters.buffersCreated;
  const errors: string[] = [];
  for (const attempt of [
    () => new WB.Network(backend, { inputSize: 4, layers: [{ units: 1e9, activation: 'relu' }] }),
    () => WB.Network.fromJSON(backend, file),
    // Within the host's limit but not the GPU budget: the backend's own check.
    async () => {
      const tight = await WB.createBackend('webgpu', { memoryBudget: 2 ** 20, autotune: false });
      try {
        WB.Network.fromJSON(tight, { ...file, layers: [{ units: 100_000, activation: 'relu' }] });
      } finally {
        tight.destroy();
      }
    },
  ]) {
    try {
      await attempt();
      errors.push('no error');
    } catch (e) {
      errors.push(`${(e as Error).name}: ${(e as Error).message}`);
    }
  }
  return { errors, made: counters.buffersCreated - made };
}
