// Network training on WebGPU and on the wasm backend against the CPU reference: same seed, same batches,
// same losses and weights.
import { BACKENDS, expect, test } from './fixtures';

const NETS = [
  {
    name: '2→16→16→1 relu, sigmoid out',
    inputSize: 2,
    layers: [
      { units: 16, activation: 'relu' },
      { units: 16, activation: 'relu' },
      { units: 1, activation: 'sigmoid' },
    ],
  },
  {
    name: '64→128→10 sigmoid',
    inputSize: 64,
    layers: [
      { units: 128, activation: 'sigmoid' },
      { units: 10, activation: 'sigmoid' },
    ],
  },
  {
    name: '784→256→64→10 relu, linear out',
    inputSize: 784,
    layers: [
      { units: 256, activation: 'relu' },
      { units: 64, activation: 'relu' },
      { units: 10, activation: 'linear' },
    ],
  },
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

// Classification: tanh and relu hidden layers, a softmax output with cross-entropy (the loss and dZ_L in
// one kernel), each optimizer with decoupled weight decay. Same tolerances as above.
const CLASSIFIER = {
  inputSize: 12,
  layers: [
    { units: 24, activation: 'tanh' as const },
    { units: 16, activation: 'relu' as const },
    { units: 5, activation: 'softmax' as const },
  ],
  loss: 'crossEntropy' as const,
  seed: 8,
};

/**
 * The final weights within weightTol, except where a ReLU's input landed within rounding of 0: one side
 * sums it to a hair above 0 and the other to a hair below, so for that row the unit's derivative is 1 on
 * one and 0 on the other, and its incoming weights and bias drift apart by lr·|x|·|dz| per step (about
 * 1e-4 in the 784-input net, where 784-term sums make such near-zero inputs likely over 50 steps). That is
 * allowed for one unit per run, within 1e-3; two units, or a larger gap, fail.
 */
function expectWeightsClose(r: { weightProblem: string | null; offUnits: string[]; maxDiff: number }, what: string) {
  if (r.weightProblem === null) return;
  expect(r.offUnits, `${what} weights: ${r.weightProblem} (units off: ${r.offUnits})`).toHaveLength(1);
  expect(r.maxDiff, `${what} weights: ${r.weightProblem}`).toBeLessThan(1e-3);
}

// Each parity test on WebGPU and on the wasm backend, against the CPU reference with the same tolerances.
for (const on of BACKENDS) {
  test.describe(on, () => {
    test.use({ on });

    for (const net of NETS) {
      test(`parity over 50 trainStep calls: ${net.name}`, async ({ gpuPage }) => {
        for (const optimizer of OPTIMIZERS) {
          const spec = { inputSize: net.inputSize, layers: [...net.layers], optimizer, seed: 42 };
          const r = await gpuPage.evaluate((args) => window.T.networkParity(args), {
            spec,
            steps: 50,
            batch: 32,
            mode: 'trainStep' as const,
            lossTol,
            weightTol,
          });
          const what = `${net.name} ${optimizer.type}`;
          expect(r.count).toBe(50);
          expect(r.moved, `${what}: training changed the weights`).toBeGreaterThan(1e-4);
          expect(r.lossProblem, `${what} losses: ${r.lossProblem}`).toBeNull();
          // The ReLU-branch allowance is for wasm, whose products round differently from the CPU's; WebGPU
          // is held to the plain tolerance.
          if (on === 'wasm') expectWeightsClose(r, what);
          else expect(r.weightProblem, `${what} weights: ${r.weightProblem}`).toBeNull();
        }
      });
    }

    test('parity of fit(): shuffled batches gathered on the GPU, ragged last batch', async ({ gpuPage }) => {
      for (const optimizer of OPTIMIZERS) {
        const spec = {
          inputSize: 64,
          layers: [
            { units: 32, activation: 'relu' as const },
            { units: 3, activation: 'sigmoid' as const },
          ],
          optimizer,
          seed: 3,
        };
        const r = await gpuPage.evaluate((args) => window.T.networkParity(args), {
          spec,
          steps: 4,
          batch: 16,
          mode: 'fit' as const,
          lossTol,
          weightTol,
        });
        expect(r.count).toBe(4);
        expect(r.lossProblem, `fit ${optimizer.type} epoch losses: ${r.lossProblem}`).toBeNull();
        expect(r.weightProblem, `fit ${optimizer.type} weights: ${r.weightProblem}`).toBeNull();
      }
    });

    test('parity over 50 trainStep calls: tanh → relu → softmax with cross-entropy and weight decay', async ({
      gpuPage,
    }) => {
      const optimizers = [
        { type: 'sgd' as const, learningRate: 0.2, weightDecay: 0.01 },
        { type: 'adam' as const, learningRate: 0.01, weightDecay: 0.05 },
      ];
      for (const optimizer of optimizers) {
        const r = await gpuPage.evaluate((args) => window.T.networkParity(args), {
          spec: { ...CLASSIFIER, optimizer },
          steps: 50,
          batch: 32,
          mode: 'trainStep' as const,
          lossTol,
          weightTol,
        });
        const what = `classifier ${optimizer.type}`;
        expect(r.count).toBe(50);
        expect(r.losses[1], `${what}: training lowers the loss`).toBeLessThan(r.losses[0]);
        expect(r.lossProblem, `${what} losses: ${r.lossProblem}`).toBeNull();
        expect(r.weightProblem, `${what} weights: ${r.weightProblem}`).toBeNull();
      }
    });

    test('parity of fit() with a validation set: classification loss and accuracy per epoch', async ({ gpuPage }) => {
      const r = await gpuPage.evaluate((args) => window.T.networkParity(args), {
        spec: { ...CLASSIFIER, optimizer: { type: 'momentum' as const, learningRate: 0.1, momentum: 0.9 } },
        steps: 5,
        batch: 16,
        mode: 'fit' as const,
        lossTol,
        weightTol,
        validate: true,
      });
      expect(r.lossProblem).toBeNull();
      expect(r.weightProblem).toBeNull();
      expect(r.validationLoss).toBeNull();
      const [gpu, cpu] = r.validationAccuracy;
      expect(gpu).toHaveLength(5);
      expect(gpu).toEqual(cpu);
    });
  });
}

// Layers this wide at batch 256 have M·N ≥ 256², where the untuned choice is sg32x32 (matmul_sg.wgsl with
// one operand packed into a texture) if the adapter has 4-wide subgroups. With these widths its
// matmuls run both ways round (packing B, or packing A and computing Cᵀ when M < N) in every epilogue:
// forward with bias + relu (256→512 swapped, 64→256 and 512→256 not), the SGD step fused into dW
// (256×512 swapped, 512×256 not), dZ_prev = dA ⊙ f' fused into dA_prev (256×512 swapped, 256×256 not).
// The rest run the register kernels. (Each of those is its own pipeline, seconds to compile here, so
// one optimizer: the plain dW store of the others is the forward store without bias.)
test('parity with the subgroup matmul kernel in every form and epilogue; its textures are freed', async ({
  gpuPage,
}) => {
  const relu = 'relu' as const;
  const spec = {
    inputSize: 64,
    layers: [
      { units: 256, activation: relu },
      { units: 512, activation: relu },
      { units: 256, activation: relu },
      { units: 4, activation: 'linear' as const },
    ],
    optimizer: OPTIMIZERS[0],
    seed: 5,
  };
  const r = await gpuPage.evaluate(
    async (args) => {
      const { T } = window;
      const texturesBefore = T.liveTextures();
      const created = T.counters.texturesCreated;
      const parity = await T.networkParity(args);
      return {
        ...parity,
        subgroups: await T.subgroupMatmul(),
        texturesMade: T.counters.texturesCreated - created,
        texturesLeft: T.liveTextures() - texturesBefore,
      };
    },
    { spec, steps: 3, batch: 256, mode: 'trainStep' as const, lossTol, weightTol },
  );
  if (r.subgroups) expect(r.texturesMade, 'the packed textures were made').toBeGreaterThan(0);
  expect(r.texturesLeft, 'textures left after destroy()').toBe(0);
  expect(r.count).toBe(3);
  expect(r.moved, 'training changed the weights').toBeGreaterThan(1e-4);
  expect(r.lossProblem, `losses: ${r.lossProblem}`).toBeNull();
  expect(r.weightProblem, `weights: ${r.weightProblem}`).toBeNull();
});
