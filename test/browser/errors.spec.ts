// The error classes as users get them: the *built* dist/webgpu-backprop.js (minified, so class names are
// mangled), freshly built by test/global-setup.ts. Each error is provoked through the public API — with
// the browser's own WebGPU objects patched where a real failure cannot be ordered (a lost device, a shader
// that does not compile) — and must keep its name, be an instance of its class, of BackpropError and of
// Error, and print as `Name: message`. Every exported error class is also constructed directly, so a class
// added later is checked too.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test, expect } from '@playwright/test';

const dist = resolve(import.meta.dirname, '../../dist/webgpu-backprop.js');

/** What the page reports for one caught error. */
interface Caught {
  name: string;
  ofClass: boolean;
  ofBase: boolean;
  ofError: boolean;
  printed: string;
  stackHead: string;
  message: string;
}

test('the built package keeps every error class name and instanceof', async ({ page }) => {
  // The exact bytes of dist/, served on the test server's origin (a secure context) without Vite in between.
  const code = readFileSync(dist, 'utf8');
  await page.route('**/__dist__/**', (route) =>
    route.request().url().endsWith('/webgpu-backprop.js')
      ? route.fulfill({ body: code, contentType: 'text/javascript' })
      : route.fulfill({ body: '<!doctype html><title>dist</title>', contentType: 'text/html' }),
  );
  await page.goto('/__dist__/index.html');

  const r = await page.evaluate(async () => {
    type Lib = typeof import('../../src/index');
    const WB: Lib = await import(`${location.origin}/__dist__/webgpu-backprop.js`);
    const inspect = (e: unknown, cls: string) => {
      const err = e as Error;
      const C = (WB as unknown as Record<string, new (...args: never[]) => Error>)[cls];
      return {
        name: err.name,
        ofClass: err instanceof C,
        ofBase: err instanceof WB.BackpropError,
        ofError: err instanceof Error,
        printed: String(err),
        stackHead: String(err.stack).split('\n')[0],
        message: err.message,
      };
    };
    const caught = async (cls: string, provoke: () => unknown): Promise<Caught | string> => {
      try {
        await provoke();
      } catch (e) {
        return inspect(e, cls);
      }
      return 'nothing was thrown';
    };

    // Every exported class, constructed.
    const constructed: Record<string, Caught> = {};
    for (const [key, value] of Object.entries(WB)) {
      if (typeof value === 'function' && value.prototype instanceof Error)
        constructed[key] = inspect(new (value as new (m: string) => Error)('constructed'), key);
    }

    // Provoked, through the public API.
    const provoked: Record<string, Caught | string> = {};
    const cpu = await WB.createBackend('cpu');
    provoked.InvalidArgumentError = await caught('InvalidArgumentError', () => cpu.matrix(2, 2, new Float32Array(3)));
    provoked.DisposedError = await caught('DisposedError', () => {
      const m = cpu.matrix(1, 1);
      m.dispose();
      return m.read();
    });
    provoked.DivergenceError = await caught('DivergenceError', () => {
      // Linear layers, lr 1, targets of 100: every step overshoots further until the loss is not finite.
      const net = new WB.Network(cpu, {
        inputSize: 1,
        layers: [{ units: 1, activation: 'linear' }],
        optimizer: { type: 'sgd', learningRate: 1 },
        seed: 1,
      });
      return net.fit(Float32Array.of(1, 2, 3, 4), Float32Array.of(100, 200, 300, 400), { epochs: 200, batchSize: 4 });
    });

    provoked.HostMemoryError = await caught('HostMemoryError', () => {
      // A billion units: its weights alone would be 32 GB of host memory.
      new WB.Network(cpu, { inputSize: 8, layers: [{ units: 1e9, activation: 'relu' }] });
    });

    const gpu = navigator.gpu;
    provoked.WebGpuUnavailableError = await caught('WebGpuUnavailableError', async () => {
      gpu.requestAdapter = async () => null; // an own property, shadowing the prototype's for this call
      try {
        await WB.createBackend('webgpu');
      } finally {
        delete (gpu as Partial<GPU>).requestAdapter;
      }
    });

    const quiet = { onError: () => {}, autotune: false }; // the GPU errors below are expected
    provoked.GpuMemoryError = await caught('GpuMemoryError', async () => {
      const backend = await WB.createBackend('webgpu', { ...quiet, memoryBudget: 2 ** 20 });
      try {
        new WB.Network(backend, { inputSize: 1024, layers: [{ units: 1024, activation: 'relu' }] });
      } finally {
        backend.destroy();
      }
    });

    // The device the next backend opens, caught on its way out of the browser's requestDevice.
    const nextDevice = async () => {
      const requestDevice = GPUAdapter.prototype.requestDevice;
      let device: GPUDevice | undefined;
      GPUAdapter.prototype.requestDevice = async function (this: GPUAdapter, descriptor) {
        device = await requestDevice.call(this, descriptor);
        return device;
      };
      try {
        const backend = await WB.createBackend('webgpu', quiet);
        if (!device) throw new Error('the backend opened no device');
        return { backend, device };
      } finally {
        GPUAdapter.prototype.requestDevice = requestDevice;
      }
    };
    provoked.DeviceLostError = await caught('DeviceLostError', async () => {
      const { backend, device } = await nextDevice();
      device.destroy();
      await device.lost;
      backend.matrix(1, 1);
    });
    provoked.GpuError = await caught('GpuError', async () => {
      const { backend, device } = await nextDevice();
      try {
        // A real validation error the backend did not cause (a buffer cannot be mapped both ways): the
        // browser reports it as an uncaptured error, and the backend's next read rejects with it.
        device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.MAP_WRITE });
        await device.queue.onSubmittedWorkDone();
        await new Promise((done) => setTimeout(done, 100));
        await backend.matrix(1, 1).read();
      } finally {
        backend.destroy();
      }
    });
    provoked.ShaderCompileError = await caught('ShaderCompileError', async () => {
      const createShaderModule = GPUDevice.prototype.createShaderModule;
      GPUDevice.prototype.createShaderModule = function (this: GPUDevice, descriptor) {
        return createShaderModule.call(this, { ...descriptor, code: `${descriptor.code}\nnot wgsl;` });
      };
      try {
        (await WB.createBackend('webgpu', quiet)).destroy();
      } finally {
        GPUDevice.prototype.createShaderModule = createShaderModule;
      }
    });
    return { constructed, provoked };
  });

  const classes = Object.keys(r.constructed).sort();
  expect(classes).toEqual(
    expect.arrayContaining([
      'BackpropError',
      'DeviceLostError',
      'DisposedError',
      'DivergenceError',
      'GpuError',
      'GpuMemoryError',
      'HostMemoryError',
      'InvalidArgumentError',
      'ShaderCompileError',
      'WebGpuUnavailableError',
    ]),
  );
  for (const cls of classes) {
    const c = r.constructed[cls];
    expect(c.name, `new ${cls}().name`).toBe(cls);
    expect([c.ofClass, c.ofBase, c.ofError], `new ${cls}() instanceof ${cls}, BackpropError, Error`).toEqual([
      true,
      true,
      true,
    ]);
  }
  expect(
    Object.keys(r.provoked).sort(),
    'every exported error class but BackpropError is provoked above (a new class needs a way in)',
  ).toEqual(classes.filter((c) => c !== 'BackpropError'));
  for (const [cls, c] of Object.entries(r.provoked)) {
    if (typeof c === 'string') throw new Error(`${cls}: provoking it failed: ${c}`);
    const e = c;
    expect(e.name, `${cls}: name (${e.message})`).toBe(cls);
    expect([e.ofClass, e.ofBase, e.ofError], `${cls}: instanceof ${cls}, BackpropError, Error`).toEqual([
      true,
      true,
      true,
    ]);
    expect(e.printed, `${cls}: String(error)`).toBe(`${cls}: ${e.message}`);
    expect(e.stackHead, `${cls}: first line of the stack`).toBe(`${cls}: ${e.message.split('\n')[0]}`);
  }
});
