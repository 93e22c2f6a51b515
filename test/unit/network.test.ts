// Network on the CPU backend: initialisation, validation of every argument (with the weights checked
// unchanged after each refusal), fit's options, and saving/loading.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createBackend,
  DisposedError,
  InvalidArgumentError,
  Network,
  type Backend,
  type NetworkSpec,
} from '../../src/index';
import { allclose } from '../allclose';

const spec: NetworkSpec = {
  inputSize: 3,
  layers: [
    { units: 4, activation: 'relu' },
    { units: 2, activation: 'sigmoid' },
  ],
  optimizer: { type: 'sgd', learningRate: 0.1 },
  seed: 11,
};
const x = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));
const y = Float32Array.from({ length: 8 }, (_, i) => (i % 3) / 2);
const flat = async (net: Network) => (await net.getWeights()).flatMap((l) => [...l.weights, ...l.bias]);

let cpu: Backend;
beforeEach(async () => {
  cpu = await createBackend('cpu');
});

describe('initialisation', () => {
  it('the same seed gives the same weights; another seed does not', async () => {
    const a = await flat(new Network(cpu, spec));
    const b = await flat(new Network(cpu, spec));
    const c = await flat(new Network(cpu, { ...spec, seed: 12 }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('uses He limits for relu and Glorot limits for sigmoid, zero biases', async () => {
    const net = new Network(cpu, {
      inputSize: 50,
      layers: [
        { units: 40, activation: 'relu' },
        { units: 30, activation: 'sigmoid' },
      ],
      seed: 1,
    });
    const [l0, l1] = await net.getWeights();
    const he = Math.sqrt(6 / 50);
    const glorot = Math.sqrt(6 / (40 + 30));
    expect(Math.max(...l0.weights.map(Math.abs))).toBeLessThanOrEqual(he);
    expect(Math.max(...l0.weights.map(Math.abs))).toBeGreaterThan(0.9 * he);
    expect(Math.max(...l1.weights.map(Math.abs))).toBeLessThanOrEqual(glorot);
    expect(Math.max(...l1.weights.map(Math.abs))).toBeGreaterThan(0.9 * glorot);
    expect([...l0.bias, ...l1.bias].every((v) => v === 0)).toBe(true);
  });
});

describe('bad input throws a clear error and changes nothing', () => {
  let net: Network;
  let before: number[];
  beforeEach(async () => {
    net = new Network(cpu, spec);
    before = await flat(net);
  });
  const refuse = async (
    f: () => unknown,
    message: RegExp | string,
    cls: abstract new (...args: never[]) => Error = InvalidArgumentError,
  ) => {
    let error: unknown;
    try {
      await f();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(cls);
    expect((error as Error).message).toMatch(message);
    expect(await flat(net)).toEqual(before);
  };

  it('x of the wrong length (not whole rows)', () =>
    refuse(
      () => net.trainStep(new Float32Array(7), y),
      'trainStep: x is Float32Array(length 7) (expected a non-zero multiple of inputSize = 3 values (whole rows))',
    ));
  it('y with a different number of rows than x', () =>
    refuse(
      () => net.trainStep(x, new Float32Array(6)),
      'trainStep: y is Float32Array(length 6) (expected 4 rows to match x (8 values))',
    ));
  it('y not whole rows of the output width', () =>
    refuse(
      () => net.fit(x, new Float32Array(7), { epochs: 1, batchSize: 2 }),
      'fit: y is Float32Array(length 7) ' +
        "(expected a non-zero multiple of the last layer's units = 2 values (whole rows))",
    ));
  it('empty x', () => refuse(() => net.predict(new Float32Array(0)), /predict: x is Float32Array\(length 0\)/));
  it('x not a Float32Array', () =>
    refuse(
      () => net.predict([1, 2, 3] as unknown as Float32Array),
      'predict: x is array(length 3) (expected a Float32Array)',
    ));
  it('NaN in x', () => {
    const bad = x.slice();
    bad[5] = NaN;
    return refuse(
      () => net.trainStep(bad, y),
      'trainStep: x is Float32Array(length 12) (element 5 is NaN; every value must be finite)',
    );
  });
  it('Infinity in y', () => {
    const bad = y.slice();
    bad[2] = -Infinity;
    return refuse(() => net.fit(x, bad, { epochs: 1, batchSize: 2 }), /fit: y is .*element 2 is -Infinity/);
  });
  it('batchSize 0', () =>
    refuse(
      () => net.fit(x, y, { epochs: 1, batchSize: 0 }),
      'fit: options.batchSize is 0 (expected a positive integer)',
    ));
  it('batchSize larger than the data', () =>
    refuse(
      () => net.fit(x, y, { epochs: 1, batchSize: 5 }),
      'fit: options.batchSize is 5 (expected at most the number of rows (4))',
    ));
  it('epochs 1.5', () =>
    refuse(
      () => net.fit(x, y, { epochs: 1.5, batchSize: 2 }),
      'fit: options.epochs is 1.5 (expected a positive integer)',
    ));
  it('learningRate 0, negative and NaN', async () => {
    for (const lr of [0, -0.1, NaN]) {
      await refuse(
        () => net.setLearningRate(lr),
        `setLearningRate: learningRate is ${lr} (expected a finite number > 0)`,
      );
      expect(() => new Network(cpu, { ...spec, optimizer: { type: 'adam', learningRate: lr } })).toThrow(
        `Network: optimizer.learningRate is ${lr} (expected a finite number > 0)`,
      );
    }
  });
  it('unknown activation', () =>
    expect(() => new Network(cpu, { ...spec, layers: [{ units: 2, activation: 'swish' as 'relu' }] })).toThrow(
      `Network: layers[0].activation is "swish" (expected one of 'relu', 'sigmoid', 'tanh', 'linear', 'softmax')`,
    ));
  it('unknown optimizer', () =>
    expect(
      () =>
        new Network(cpu, {
          ...spec,
          optimizer: { type: 'rmsprop', learningRate: 0.1 } as unknown as NetworkSpec['optimizer'],
        }),
    ).toThrow(`Network: optimizer.type is "rmsprop" (expected 'sgd', 'momentum' or 'adam')`));
  it('momentum outside [0, 1)', () =>
    expect(
      () => new Network(cpu, { ...spec, optimizer: { type: 'momentum', learningRate: 0.1, momentum: 1 } }),
    ).toThrow('Network: optimizer.momentum is 1 (expected a number in [0, 1))'));
  it('setWeights with a wrong shape', () =>
    refuse(
      () => net.setWeights([{ weights: new Float32Array(12), bias: new Float32Array(4) }]),
      'setWeights: layers is array(length 1) (expected an array of 2 { weights, bias } entries, one per layer)',
    ));
  it('setWeights with NaN', async () => {
    const w = await net.getWeights();
    w[1].bias[1] = NaN;
    await refuse(
      () => net.setWeights(w),
      'setWeights: layers[1].bias is Float32Array(length 2) (element 1 is NaN; every value must be finite)',
    );
  });

  it('every call after destroy() throws DisposedError', async () => {
    net.destroy();
    net.destroy();
    const calls: [string, () => unknown][] = [
      ['trainStep', () => net.trainStep(x, y)],
      ['fit', () => net.fit(x, y, { epochs: 1, batchSize: 2 })],
      ['predict', () => net.predict(x)],
      ['evaluate', () => net.evaluate(x, y)],
      ['getWeights', () => net.getWeights()],
      ['setWeights', () => net.setWeights([])],
      ['toJSON', () => net.toJSON()],
      ['sync', () => net.sync()],
    ];
    for (const [name, call] of calls) {
      await expect(async () => call()).rejects.toThrow(new DisposedError(`${name}: this network was destroyed`));
    }
  });
});

describe('fit', () => {
  it('calls onEpochEnd per epoch, is reproducible with a seed and stops on abort', async () => {
    const infos: { epoch: number; loss: number; steps: number }[] = [];
    const a = new Network(cpu, spec);
    const ra = await a.fit(x, y, {
      epochs: 3,
      batchSize: 3,
      seed: 5,
      onEpochEnd: (i) => {
        infos.push(i);
      },
    });
    const b = new Network(cpu, spec);
    const rb = await b.fit(x, y, { epochs: 3, batchSize: 3, seed: 5 });
    expect(ra.loss).toEqual(rb.loss);
    expect(infos.map((i) => [i.epoch, i.steps])).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    expect(infos.map((i) => i.loss)).toEqual(ra.loss);

    const controller = new AbortController();
    const c = new Network(cpu, spec);
    const rc = await c.fit(x, y, {
      epochs: 50,
      batchSize: 1,
      signal: controller.signal,
      onEpochEnd: (i) => {
        if (i.epoch === 1) controller.abort();
      },
    });
    expect(rc.loss).toHaveLength(2);
  });

  it('refuses a second training call while one runs', async () => {
    const net = new Network(cpu, spec);
    const first = net.fit(x, y, { epochs: 2, batchSize: 1 });
    await expect(net.trainStep(x, y)).rejects.toThrow(
      'trainStep: another trainStep() or fit() is still running on this network (await it first)',
    );
    await first;
  });
});

describe('save and load', () => {
  it('round-trips weights and optimizer state exactly', async () => {
    const net = new Network(cpu, { ...spec, optimizer: { type: 'adam', learningRate: 0.01 } });
    await net.fit(x, y, { epochs: 2, batchSize: 2 });
    const copy = Network.fromJSON(cpu, JSON.parse(JSON.stringify(net)));
    expect(await flat(copy)).toEqual(await flat(net));
    const la = await net.trainStep(x, y);
    const lb = await copy.trainStep(x, y);
    expect(lb).toBe(la);
    expect(await flat(copy)).toEqual(await flat(net));
  });

  it('after trainStep on a host backend, toJSON saves the stepped weights and state without sync()', async () => {
    for (const backend of [cpu, await createBackend('wasm', { threads: 1 })]) {
      const net = new Network(backend, { ...spec, optimizer: { type: 'adam', learningRate: 0.01 } });
      const before = JSON.stringify(net);
      await net.trainStep(x, y);
      const after = JSON.parse(JSON.stringify(net));
      expect(JSON.stringify(after), backend.kind).not.toBe(before);
      expect(after.optimizerState.step, backend.kind).toBe(1);
      const copy = Network.fromJSON(cpu, after);
      expect(await flat(copy), backend.kind).toEqual(await flat(net));
      net.destroy();
      if (backend !== cpu) backend.destroy();
    }
  });

  it('rejects a damaged file', () => {
    const net = new Network(cpu, spec);
    const json = JSON.parse(JSON.stringify(net));
    json.weights[1].bias = 'AAAA';
    expect(() => Network.fromJSON(cpu, json)).toThrow(
      'Network.fromJSON: json.weights[1].bias is "a string of 4 characters" ' +
        '(expected a base64 string of 2 little-endian f32 values (8 bytes))',
    );
    expect(() => Network.fromJSON(cpu, { format: 'something else' })).toThrow(
      'Network.fromJSON: json.format is "something else" (expected \'webgpu-backprop/network\')',
    );
  });

  it('predictions survive the trip', async () => {
    const net = new Network(cpu, spec);
    await net.fit(x, y, { epochs: 3, batchSize: 2 });
    const copy = Network.fromJSON(cpu, JSON.stringify(net));
    expect(allclose(await copy.predict(x), await net.predict(x), { rtol: 0, atol: 0 })).toBeNull();
  });
});
