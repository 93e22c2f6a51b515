// A user's page: train a small network on XOR with webgpu-backprop, on whichever backend 'auto' picks
// (WebGPU or WebAssembly, whichever trains faster here), and show the predictions.
import { BackpropError, createBackend, Network } from 'webgpu-backprop';

const x = Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1); // four rows of two inputs
const y = Float32Array.of(0, 1, 1, 0);

function element<T extends HTMLElement = HTMLElement>(id: string, type?: new () => T): T {
  const found = document.getElementById(id);
  if (!found || (type && !(found instanceof type))) throw new Error(`index.html has no #${id} of the right kind`);
  return found as T;
}

async function main(): Promise<void> {
  const status = element('status');
  const backend = await createBackend('auto');
  element('backend').textContent =
    backend.kind === 'webgpu' ? 'Backend: webgpu' : `Backend: ${backend.kind} (${backend.fallbackReason ?? 'chosen'})`;

  const net = new Network(backend, {
    inputSize: 2,
    layers: [
      { units: 8, activation: 'sigmoid' },
      { units: 1, activation: 'sigmoid' },
    ],
    optimizer: { type: 'adam', learningRate: 0.05 },
    seed: 7,
  });
  const { loss } = await net.fit(x, y, { epochs: 400, batchSize: 4 });
  const predictions = await net.predict(x);
  net.destroy();
  backend.destroy();

  const rows = element('predictions', HTMLTableSectionElement);
  for (let i = 0; i < y.length; i++) {
    const row = rows.insertRow();
    const cells = [x[2 * i], x[2 * i + 1], y[i], predictions[i]?.toFixed(3)];
    for (const value of cells) row.insertCell().textContent = String(value);
  }
  element('results').hidden = false;
  status.textContent = `done: loss ${loss[0]?.toFixed(4)} → ${loss.at(-1)?.toFixed(4)} in ${loss.length} epochs`;
  status.dataset.state = 'done';
}

main().catch((e: unknown) => {
  const status = element('status');
  // The library's errors keep their names in the built package: GpuMemoryError, WebGpuUnavailableError…
  status.textContent = e instanceof BackpropError ? `${e.name}: ${e.message}` : `failed: ${String(e)}`;
  status.dataset.state = 'failed';
});
