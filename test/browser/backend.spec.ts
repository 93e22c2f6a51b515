// Backend lifecycle on WebGPU: buffers freed on destroy (counted independently by the harness),
// clear errors after dispose/destroy, shader errors with positions, and the no-WebGPU paths.
import { test as base } from '@playwright/test';
import { test, expect } from './fixtures';

test('destroy() frees every GPU buffer the backend created', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const { T, WB } = window;
    const before = T.liveBuffers();
    const createdBefore = T.counters.buffersCreated;
    const b = await WB.createBackend('webgpu');
    const x = b.matrix(65, 33, T.rand(65 * 33, 1));
    const w = b.matrix(33, 17, T.rand(33 * 17, 2));
    const bias = b.matrix(1, 17, T.rand(17, 3));
    const y = b.matmul(x, w, { bias, activation: 'sigmoid' });
    const t = b.matrix(65, 17);
    const g = b.mseGrad(y, t);
    const loss = b.mseLoss(y, t);
    const dz = b.activationBackward('sigmoid', y, g);
    b.biasGrad(dz);
    b.matmul(x, dz, { transposeA: true });
    b.matmul(dz, w, { transposeB: true });
    b.sgdUpdate(w, b.matmul(x, dz, { transposeA: true }), 0.1);
    b.activation('relu', x);
    // Big enough for sg32x32 where subgroups are 4 wide: it packs B into the backend's scratch texture.
    const texturesBefore = T.liveTextures();
    const big = b.matrix(256, 256, T.rand(256 * 256, 4));
    b.matmul(big, big);
    await loss.read();
    x.dispose();
    x.dispose(); // twice is fine
    const whileAlive = T.liveBuffers() - before;
    const sg = await T.subgroupMatmul();
    const texturesWhileAlive = T.liveTextures() - texturesBefore;
    b.destroy();
    b.destroy();
    return {
      created: T.counters.buffersCreated - createdBefore,
      whileAlive,
      after: T.liveBuffers() - before,
      sg,
      texturesWhileAlive,
      texturesAfter: T.liveTextures() - texturesBefore,
    };
  });
  expect(r.created).toBeGreaterThan(10);
  expect(r.whileAlive).toBeGreaterThan(0);
  expect(r.after).toBe(0);
  if (r.sg) expect(r.texturesWhileAlive, 'the scratch texture of sg32x32').toBe(1);
  expect(r.texturesAfter).toBe(0);
});

test('temporary buffers of eager ops are freed at once', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const { T } = window;
    const b = await T.gpuBackend();
    const x = b.matrix(16, 16, T.rand(256, 1));
    const round = async () => {
      const y = b.matmul(x, x, { activation: 'relu' });
      const l = b.mseLoss(y, x);
      await l.read();
      y.dispose();
      l.dispose();
    };
    await round(); // the first round makes the backend's one-off placeholder buffers
    const before = T.liveBuffers();
    for (let i = 0; i < 20; i++) await round();
    const after = T.liveBuffers();
    x.dispose();
    return { before, after };
  });
  expect(r.after).toBe(r.before);
});

test('a disposed matrix or destroyed backend throws a clear error', async ({ gpuPage }) => {
  const r = await gpuPage.evaluate(async () => {
    const b = await window.WB.createBackend('webgpu');
    const x = b.matrix(2, 3);
    x.dispose();
    const msg = async (f: () => unknown) => {
      try {
        await f();
        return 'no error';
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
    };
    const onDisposed = [await msg(() => x.read()), await msg(() => b.activation('relu', x))];
    const y = b.matrix(2, 3);
    b.destroy();
    const onDestroyed = [await msg(() => b.matrix(1, 1)), await msg(() => y.read()), await msg(() => b.biasGrad(y))];
    return { onDisposed, onDestroyed };
  });
  for (const m of r.onDisposed) expect(m).toMatch(/^DisposedError: .*matrix 'matrix#1 2×3' \(2×3\) was disposed$/);
  for (const m of r.onDestroyed) expect(m).toMatch(/^DisposedError: .*the webgpu backend was destroyed$/);
});

test('shader compile errors name the file, line and column', async ({ gpuPage }) => {
  const message = await gpuPage.evaluate(async () => {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null');
    const device = await adapter.requestDevice();
    try {
      await window.T.compileShader(device, 'broken', [
        { file: 'lib.wgsl', code: 'fn ok() -> f32 { return 1.0; }' },
        { file: 'broken.wgsl', code: '// line 1\n@compute @workgroup_size(1)\nfn main() { let x: f32 = nope; }' },
      ]);
      return 'no error';
    } catch (e) {
      return `${(e as Error).name}: ${(e as Error).message}`;
    } finally {
      device.destroy();
    }
  });
  expect(message).toMatch(/^ShaderCompileError: shader 'broken' failed to compile:\nbroken\.wgsl:3:\d+: .*nope/);
});

// Pages without WebGPU: the plain Playwright page, with navigator.gpu removed or the adapter refused.
base.describe('without WebGPU', () => {
  const probe = async (page: import('@playwright/test').Page) => {
    await page.goto('/test/browser/harness.html');
    await page.waitForFunction(() => document.title === 'harness ready');
    return page.evaluate(async () => {
      const { WB } = window;
      let rejected = '';
      try {
        await WB.createBackend('webgpu');
      } catch (e) {
        rejected = `${(e as Error).name} ${e instanceof WB.WebGpuUnavailableError} ${(e as Error).message}`;
      }
      const auto = await WB.createBackend('auto');
      const m = auto.matrix(1, 2, Float32Array.of(-1, 2));
      return {
        rejected,
        kind: auto.kind,
        fallbackReason: auto.fallbackReason,
        choice: auto.choice,
        relu: Array.from(await auto.activation('relu', m).read()),
      };
    });
  };

  base('no navigator.gpu: webgpu rejects with the reason, auto falls back to wasm', async ({ page }) => {
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    const r = await probe(page);
    expect(r.rejected).toMatch(/^WebGpuUnavailableError true WebGPU is unavailable: navigator.gpu is missing/);
    expect(r.kind).toBe('wasm');
    expect(r.fallbackReason).toMatch(/^navigator.gpu is missing/);
    expect(r.choice).toMatch(/^wasm: WebGPU is unavailable \(navigator.gpu is missing/);
    expect(r.relu).toEqual([0, 2]);
  });

  base('no adapter: webgpu rejects with the reason, auto falls back to wasm', async ({ page }) => {
    await page.addInitScript(() => {
      GPU.prototype.requestAdapter = async () => null;
    });
    const r = await probe(page);
    expect(r.rejected).toMatch(/^WebGpuUnavailableError true WebGPU is unavailable: requestAdapter\(\) returned null/);
    expect(r.kind).toBe('wasm');
    expect(r.fallbackReason).toMatch(/^requestAdapter\(\) returned null/);
  });

  base('no adapter and no WebAssembly compile: auto falls back to the CPU reference', async ({ page }) => {
    await page.addInitScript(() => {
      GPU.prototype.requestAdapter = async () => null;
      WebAssembly.compile = async () => {
        throw new Error('compiling is switched off in this test');
      };
    });
    const r = await probe(page);
    expect(r.kind).toBe('cpu');
    expect(r.fallbackReason).toMatch(
      /^requestAdapter\(\) returned null.*; and WebAssembly SIMD is unavailable: compiling is switched off in this test$/,
    );
    expect(r.relu).toEqual([0, 2]);
  });
});
