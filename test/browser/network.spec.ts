// Network training on WebGPU against the CPU reference: same seed, same batches, same losses and weights.
import { test, expect } from './fixtures';

const NETS = [
  { name: '2→16→16→1 relu, sigmoid out', inputSize: 2, layers: [{ units: 16, activation: 'relu' }, { units: 16, activation: 'relu' }, { units: 1, activation: 'sigmoid' }] },
  { name: '64→128→10 sigmoid', inputSize: 64, layers: [{ units: 128, activation: 'sigmoid' }, { units: 10, activation: 'sigmoid' }] },
  { name: '784→256→64→10 relu, linear out', inputSize: 784, layers: [{ units: 256, activation: 'relu' }, { units: 64, activation: 'relu' }, { units: 10, activation: 'linear' }] },
] as const;
const OPTIMIZERS = [
  { type: 'sgd', learningRate: 0.1 },
  { type: 'momentum', learningRate: 0.05, momentum: 0.9 },
  { type: 'adam', learningRate: 0.001 },
] as const;

// Tolerances (the acceptance): per-step losses rtol 1e-4, final weights rtol 1e-3. Both sides
// store f32; they differ only in summation order and the f64 accumulation of the CPU, which is ~1e-6
// relative per step and grows slowly over 50 steps. atol 1e-6 covers weights that sit near zero.
const lossTol = { rtol: 1e-4, atol: 0 };
const weightTol = { rtol: 1e-3, atol: 1e-6 };

for (const net of NETS) {
  test(`parity over 50 trainStep calls: ${net.name}`, async ({ gpuPage }) => {
    for (const optimizer of OPTIMIZERS) {
      const spec = { inputSize: net.inputSize, layers: [...net.layers], optimizer, seed: 42 };
      const r = await gpuPage.evaluate((args) => window.T.networkParity(args),
        { spec, steps: 50, batch: 32, mode: 'trainStep' as const, lossTol, weightTol });
      const what = `${net.name} ${optimizer.type}`;
      expect(r.count).toBe(50);
      expect(r.moved, `${what}: training changed the weights`).toBeGreaterThan(1e-4);
      expect(r.lossProblem, `${what} losses: ${r.lossProblem}`).toBeNull();
      expect(r.weightProblem, `${what} weights: ${r.weightProblem}`).toBeNull();
    }
  });
}

test('parity of fit(): shuffled batches gathered on the GPU, ragged last batch', async ({ gpuPage }) => {
  for (const optimizer of OPTIMIZERS) {
    const spec = { inputSize: 64, layers: [{ units: 32, activation: 'relu' as const }, { units: 3, activation: 'sigmoid' as const }], optimizer, seed: 3 };
    const r = await gpuPage.evaluate((args) => window.T.networkParity(args),
      { spec, steps: 4, batch: 16, mode: 'fit' as const, lossTol, weightTol });
    expect(r.count).toBe(4);
    expect(r.lossProblem, `fit ${optimizer.type} epoch losses: ${r.lossProblem}`).toBeNull();
    expect(r.weightProblem, `fit ${optimizer.type} weights: ${r.weightProblem}`).toBeNull();
  }
});
