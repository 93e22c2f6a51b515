// The page the Playwright test drives: it trains the model on WebGPU and on the CPU and shows both.
import { createBackend } from 'webgpu-backprop';
import { requireWebGpu } from 'webgpu-backprop/testing/page';
import { train } from './model';

declare global {
  interface Window {
    trainBoth(): Promise<{ gpu: Awaited<ReturnType<typeof train>>; cpu: Awaited<ReturnType<typeof train>> }>;
  }
}

const status = document.getElementById('status');
if (!status) throw new Error('page.ts: index.html has no #status element');

window.trainBoth = async () => {
  const backend = await requireWebGpu();
  try {
    const result = { gpu: await train(backend), cpu: await train(await createBackend('cpu')) };
    status.textContent = `WebGPU accuracy ${result.gpu.accuracy}, CPU accuracy ${result.cpu.accuracy}`;
    return result;
  } finally {
    backend.destroy();
  }
};
status.textContent = 'ready';
