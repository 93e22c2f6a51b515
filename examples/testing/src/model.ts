// The model under test: a small classifier, trained the same way on any backend.
import { type Backend, Network } from 'webgpu-backprop';

/** Two Gaussian-ish blobs per class in 2-D, one-hot targets; deterministic. */
export function blobs(rows: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(rows * 2);
  const y = new Float32Array(rows * 2);
  let s = 12345;
  const next = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647 - 0.5;
  };
  for (let i = 0; i < rows; i++) {
    const c = i % 2;
    x[2 * i] = (c ? 1 : -1) + next();
    x[2 * i + 1] = (c ? -1 : 1) + next();
    y[2 * i + c] = 1;
  }
  return { x, y };
}

/** Trains the classifier for 20 steps of 32 rows; its losses and final weights. */
export async function train(backend: Backend) {
  const net = new Network(backend, {
    inputSize: 2,
    layers: [
      { units: 16, activation: 'tanh' },
      { units: 2, activation: 'softmax' },
    ],
    loss: 'crossEntropy',
    optimizer: { type: 'adam', learningRate: 0.05 },
    seed: 3,
  });
  const { x, y } = blobs(64);
  const losses: number[] = [];
  for (let step = 0; step < 20; step++) {
    const b = step % 2;
    losses.push(await net.trainStep(x.subarray(b * 64, (b + 1) * 64), y.subarray(b * 64, (b + 1) * 64)));
  }
  const { accuracy = 0 } = await net.evaluate(x, y, { metrics: true });
  const weights = (await net.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);
  net.destroy();
  return { losses, accuracy, weights };
}
