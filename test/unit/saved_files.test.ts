// Untrusted saved files on the CPU backend: fast-check mutations of a valid file through fromJSON (see
// test/shared/saved_files.ts), and the sizes checked before anything is allocated (on wasm too).
import { describe, expect, it } from 'vitest';
import * as WB from '../../src/index';
import { fuzzSavedFiles } from '../shared/saved_files';

describe('Network.fromJSON on untrusted files', () => {
  it('loads each mutation into the same network or rejects it with the library’s own error', async () => {
    const report = await fuzzSavedFiles(WB, await WB.createBackend('cpu'), 400, 20261130);
    expect(report.failure).toBeNull();
    expect(report.loaded + report.rejected).toBe(400);
    // Both outcomes happen, and the memory error is among the rejections.
    expect(report.loaded).toBeGreaterThan(10);
    expect(report.errors.InvalidArgumentError).toBeGreaterThan(100);
    expect(report.errors.HostMemoryError).toBeGreaterThan(0);
  });

  it('a file with a 10⁹-unit layer is refused for its size, before any tensor is decoded', async () => {
    const cpu = await WB.createBackend('cpu');
    const net = new WB.Network(cpu, { inputSize: 2, layers: [{ units: 3, activation: 'relu' }] });
    const file = JSON.parse(JSON.stringify(net));
    file.layers[0].units = 1e9;
    expect(() => WB.Network.fromJSON(cpu, file)).toThrow(WB.HostMemoryError);
    expect(() => WB.Network.fromJSON(cpu, file)).toThrow(
      /^Network\.fromJSON: a 2→1000000000 network has 11\.2 GiB of weights and biases \(12000000000 bytes\)/,
    );
    expect(() => new WB.Network(cpu, { inputSize: 2, layers: [{ units: 1e9, activation: 'relu' }] })).toThrow(
      WB.HostMemoryError,
    );
  });

  it('on wasm too: a 10⁹-unit layer is refused in new Network and fromJSON with nothing allocated', async () => {
    const wasm = await WB.createBackend('wasm', { threads: 1 });
    try {
      const net = new WB.Network(wasm, { inputSize: 2, layers: [{ units: 3, activation: 'relu' }] });
      const file = JSON.parse(JSON.stringify(net));
      net.destroy();
      file.layers[0].units = 1e9;
      const before = { ...wasm.memory };
      expect(() => WB.Network.fromJSON(wasm, file)).toThrow(/^Network\.fromJSON: a 2→1000000000 network has 11\.2 GiB/);
      expect(() => new WB.Network(wasm, { inputSize: 2, layers: [{ units: 1e9, activation: 'relu' }] })).toThrow(
        WB.HostMemoryError,
      );
      expect({ ...wasm.memory }).toEqual(before);
    } finally {
      wasm.destroy();
    }
  });

  it('the cpu backend has a memoryBudget of its own', async () => {
    const small = await WB.createBackend('cpu', { memoryBudget: 2 ** 20 });
    const spec = { inputSize: 256, layers: [{ units: 512, activation: 'relu' as const }] };
    expect(() => new WB.Network(small, spec)).toThrow(
      /^Network: needs 1052672 bytes \(1\.0 MiB\) of host memory .* over the cpu backend's memoryBudget of 1\.0 MiB/,
    );
    // A fit's plan names the budget it was planned against.
    const net = new WB.Network(small, { inputSize: 2, layers: [{ units: 1, activation: 'sigmoid' }] });
    const { plan } = await net.fit(new Float32Array(8), new Float32Array(4), { epochs: 1, batchSize: 2 });
    expect(plan.limits.memoryBudget).toBe(2 ** 20);
  });

  it('an optimizerState that is not an object is refused with the library’s error', async () => {
    const cpu = await WB.createBackend('cpu');
    const net = new WB.Network(cpu, { inputSize: 2, layers: [{ units: 3, activation: 'relu' }] });
    for (const bad of [null, 5, 'x', [1]]) {
      const file = { ...JSON.parse(JSON.stringify(net)), optimizerState: bad };
      expect(() => WB.Network.fromJSON(cpu, file), JSON.stringify(bad)).toThrow(
        /^Network\.fromJSON: json\.optimizerState is .*expected an object \{ step, slots \}/,
      );
    }
  });
});
