// The matmul tuner's decisions (src/gpu/autotune.ts) with injected adapter traits and injected timings:
// which variant a shape uses before, during and after its class is timed in the background, what is
// timed, and the localStorage cache (reuse, and entries it must not trust). No GPU: the timer is a
// function whose answers the test controls.
import { describe, expect, it } from 'vitest';
import { type ChoiceStorage, MatmulTuner, STORAGE_KEY, shapeClass } from '../../src/gpu/autotune';
import type { MatmulShape, MatmulTile } from '../../src/gpu/kernels/matmul_args';
import { defaultMatmulVariant, matmulCandidates, worthTiming } from '../../src/gpu/matmul_variants';
import type { AdapterTraits } from '../../src/gpu/traits';
import { APPLE, NVIDIA, SWIFTSHADER } from './adapters';

class MemoryStorage implements ChoiceStorage {
  readonly items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

/** A timer that answers from a table (ms per run), records what it was asked, and can be held back. */
class FakeTimer {
  readonly calls: string[] = [];
  #release?: () => void;
  #gate?: Promise<void>;
  constructor(readonly ms: Record<string, number | 'fails'>) {}
  /** Holds every timing until release() (a GPU busy for a while). */
  hold(): void {
    this.#gate = new Promise((r) => {
      this.#release = r;
    });
  }
  release(): void {
    this.#release?.();
  }
  time = async (name: string, _tile: MatmulTile, shape: MatmulShape): Promise<number> => {
    this.calls.push(`${name} ${shapeClass(shape)}`);
    await this.#gate;
    const ms = this.ms[name];
    if (ms === 'fails' || ms === undefined) throw new Error(`${name} cannot run`);
    return ms;
  };
}

function tuner(traits: AdapterTraits, timer: FakeTimer, storage?: ChoiceStorage, identity = 'adapter | browser') {
  return new MatmulTuner({
    identity,
    candidates: matmulCandidates(traits),
    defaultFor: (s) => defaultMatmulVariant(s, traits),
    worthTiming: (tile, s) => worthTiming(tile, s, traits),
    enabled: true,
    time: timer.time,
    storage,
  });
}

const WIDE: MatmulShape = { m: 32, k: 4096, n: 1024 }; // batch-sized M against a wide layer
const SQUARE: MatmulShape = { m: 1024, k: 1024, n: 1024, epilogue: 'sgd', transposeA: true };

describe('shape classes', () => {
  it('bucket M, K, N by powers of 4 and keep the form and the epilogue', () => {
    expect(shapeClass({ m: 32, k: 4096, n: 1024 })).toBe('nn:64x4096x1024:forward');
    expect(shapeClass({ m: 50, k: 3000, n: 1000 })).toBe('nn:64x4096x1024:forward');
    expect(shapeClass({ m: 784, k: 256, n: 10, transposeA: true, epilogue: 'sgd' })).toBe('tn:1024x256x16:sgd');
    expect(shapeClass({ m: 256, k: 10, n: 784, transposeB: true, epilogue: 'grad' })).toBe('nt:256x16x1024:grad');
    expect(shapeClass({ m: 5000, k: 1, n: 1, epilogue: 'add' })).toBe('nn:hugex16x16:add');
  });
});

describe('background tuning', () => {
  it('uses the default until the timings are in, then the fastest; the version says when it changed', async () => {
    const timer = new FakeTimer({ t32: 3, t32k: 1, t64: 2, r4x4: 5 });
    timer.hold();
    const t = tuner(NVIDIA, timer);
    expect(t.variantFor(WIDE)).toBe('t32k'); // the untuned default (split-K, see matmul_policy.test.ts)
    const v0 = t.version;
    t.request(WIDE); // a first training step asks, and goes on with the default
    expect(t.variantFor(WIDE)).toBe('t32k');
    await new Promise((r) => setTimeout(r, 5)); // the timings have started, the GPU is still busy
    expect(t.variantFor(WIDE)).toBe('t32k');
    expect(t.version).toBe(v0);
    timer.release();
    await t.idle();
    expect(t.variantFor(WIDE)).toBe('t32k'); // it was fastest: the choice stands, nothing changed
    expect(t.version).toBe(v0 + 1);
    expect(t.stats).toMatchObject({ tuned: 1, fromCache: 0, rejected: 0 });
  });

  it('switches a later step to the tuned variant when it differs from the default', async () => {
    const timer = new FakeTimer({ r4x4: 9, t32: 4, t32k: 6, t64: 1, t64x128: 3, t128: 2 });
    const t = tuner(NVIDIA, timer);
    const steps: string[] = [];
    // A training loop: every step asks, and records with what variantFor says at that moment.
    for (let step = 0; step < 3; step++) {
      t.request(SQUARE);
      steps.push(t.variantFor(SQUARE));
      if (step === 0) await t.idle();
    }
    expect(steps).toEqual(['t64', 't64', 't64']); // default t64 for 1024² on NVIDIA, and t64 won
    const t2 = tuner(APPLE, new FakeTimer({ r4x4: 9, t32: 4, t32k: 6, t64: 1, t64x128: 3, t128: 2 }));
    const first = t2.variantFor(SQUARE);
    t2.request(SQUARE);
    await t2.idle();
    expect([first, t2.variantFor(SQUARE)]).toEqual(['t128', 't64']);
  });

  it('times each class once, one class after another, every candidate worth timing', async () => {
    const timer = new FakeTimer({ r4x4: 5, t32: 3, t32k: 1, t64: 2, t64x128: 4, t128: 6 });
    const t = tuner(NVIDIA, timer);
    t.request(WIDE);
    t.request({ ...WIDE, m: 40 }); // the same class
    t.request({ ...WIDE, epilogue: 'grad' }); // another: the epilogue is part of the class
    await t.idle();
    expect(timer.calls).toEqual([
      // Not t128: 3/4 of its 128-row blocks would be padding past the 32 rows.
      'r4x4 nn:64x4096x1024:forward',
      't32 nn:64x4096x1024:forward',
      't32k nn:64x4096x1024:forward',
      't64 nn:64x4096x1024:forward',
      't64x128 nn:64x4096x1024:forward',
      'r4x4 nn:64x4096x1024:grad',
      't32 nn:64x4096x1024:grad',
      't32k nn:64x4096x1024:grad',
      't64 nn:64x4096x1024:grad',
      't64x128 nn:64x4096x1024:grad',
    ]);
    expect(t.stats.tuned).toBe(2);
    // Asking again starts nothing.
    t.request(WIDE);
    await t.idle();
    expect(timer.calls.length).toBe(10);
  });

  it('skips candidates that cannot run; a class where none can keeps the default and is not retried', async () => {
    const timer = new FakeTimer({ r4x4: 'fails', t32: 3, t32k: 'fails', t64: 4 });
    const t = tuner(NVIDIA, timer);
    expect(await t.tune(WIDE)).toBe('t32');
    const none = new FakeTimer({});
    const t2 = tuner(NVIDIA, none);
    expect(await t2.tune(WIDE)).toBe('t32k');
    expect(t2.stats.tuned).toBe(0);
    t2.request(WIDE);
    await t2.idle();
    expect(none.calls.length).toBe(5);
  });

  it('does not time a class with fewer than two candidates worth it, nor anything when off', async () => {
    const timer = new FakeTimer({ r4x4: 1 });
    const t = tuner(SWIFTSHADER, timer);
    expect(await t.tune({ m: 32, k: 12, n: 32 })).toBe('r4x4'); // only r4x4's workgroup fits 32×32
    expect(timer.calls).toEqual([]);
    const off = new MatmulTuner({
      identity: 'x',
      candidates: matmulCandidates(NVIDIA),
      defaultFor: () => 't32',
      worthTiming: () => true,
      enabled: false,
      time: timer.time,
      storage: new MemoryStorage(),
    });
    expect(await off.tune(WIDE)).toBe('t32');
    off.request(WIDE);
    await off.idle();
    expect(timer.calls).toEqual([]);
  });
});

describe('the choice cache', () => {
  it('a second tuner on the same adapter and browser reuses the choices without timing', async () => {
    const storage = new MemoryStorage();
    const first = tuner(NVIDIA, new FakeTimer({ r4x4: 5, t32: 3, t32k: 9, t64: 1 }), storage);
    await first.tune(WIDE);
    const saved = JSON.parse(storage.getItem(STORAGE_KEY) as string);
    expect(saved.choices).toEqual({ 'nn:64x4096x1024:forward': 't64' });
    const timer = new FakeTimer({});
    const second = tuner(NVIDIA, timer, storage);
    expect(second.stats).toMatchObject({ tuned: 0, fromCache: 1, rejected: 0 });
    expect(second.variantFor(WIDE)).toBe('t64');
    second.request(WIDE);
    await second.idle();
    expect(timer.calls).toEqual([]);
  });

  it('ignores entries that are corrupt, from another adapter, or name unknown variants or classes', () => {
    const storage = new MemoryStorage();
    const identity = `adapter | browser | ${Object.keys(matmulCandidates(NVIDIA)).join(',')}`;
    const cases: [string, number, number][] = [
      ['{this is not json', 1, 0],
      [JSON.stringify({ identity: 'another adapter | another browser', choices: {} }), 1, 0],
      [JSON.stringify({ identity, choices: 'nope' }), 1, 0],
      [JSON.stringify({ identity, choices: { 'nn:64x4096x1024:forward': 'no-such-variant' } }), 1, 0],
      [JSON.stringify({ identity, choices: { 'nn:sxmxl': 't64' } }), 1, 0], // a class of the old scheme
      [JSON.stringify({ identity, choices: { 'nn:64x4096x1024:forward': 'toString' } }), 1, 0],
      [JSON.stringify({ identity, choices: { 'nn:64x4096x1024:forward': 't64', 'tn:16x16x16:sgd': 't32' } }), 0, 2],
    ];
    for (const [raw, rejected, fromCache] of cases) {
      storage.setItem(STORAGE_KEY, raw);
      const t = tuner(NVIDIA, new FakeTimer({}), storage);
      expect(t.stats, raw).toMatchObject({ rejected, fromCache });
    }
  });

  it('a candidate list that changed (another adapter class, a new release) makes the cache stale', async () => {
    const storage = new MemoryStorage();
    await tuner(NVIDIA, new FakeTimer({ t32: 1, t32k: 2, r4x4: 3, t64: 4 }), storage).tune(WIDE);
    const onPhone = tuner({ ...NVIDIA, maxWorkgroupStorage: 16 * 1024 }, new FakeTimer({}), storage);
    expect(onPhone.stats).toMatchObject({ rejected: 1, fromCache: 0 });
  });
});
