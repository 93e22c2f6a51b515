// createBackend('auto')'s cache of measured timings: what it trusts and what it measures again. (The
// decision itself, from real and injected timings, is tested in Chromium: test/browser/wasm.spec.ts.)
import { describe, expect, it } from 'vitest';
import { AUTO_CACHE_KEY, cacheTimings, readCachedTimings } from '../../src/auto';

function store(value: string | null) {
  const items = new Map<string, string>();
  if (value !== null) items.set(AUTO_CACHE_KEY, value);
  return { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v) };
}

const ID = 'google swiftshader | Chrome/153 | wasm 2 thread(s), relaxed SIMD';

describe("'auto' timing cache", () => {
  it('reads back what it wrote, for the same identity only', () => {
    const s = store(null);
    cacheTimings(s, ID, { webgpu: 80.5, wasm: 12.25 });
    expect(readCachedTimings(s, ID)).toEqual({ webgpu: 80.5, wasm: 12.25 });
    expect(readCachedTimings(s, `${ID} `)).toBeUndefined();
    expect(readCachedTimings(s, ID.replace('2 thread', '1 thread'))).toBeUndefined();
  });

  it('ignores entries that are not JSON, not objects, or hold timings that are not positive numbers', () => {
    const entries = [
      '{not json',
      'null',
      '[]',
      '"text"',
      JSON.stringify({ identity: ID }),
      JSON.stringify({ identity: ID, timings: { webgpu: 1 } }),
      JSON.stringify({ identity: ID, timings: { webgpu: '1', wasm: 2 } }),
      JSON.stringify({ identity: ID, timings: { webgpu: 0, wasm: 2 } }),
      JSON.stringify({ identity: ID, timings: { webgpu: -1, wasm: 2 } }),
      `{"identity": ${JSON.stringify(ID)}, "timings": {"webgpu": 1, "wasm": 1e999}}`, // parses as Infinity
      JSON.stringify({ identity: 'another adapter', timings: { webgpu: 1, wasm: 2 } }),
    ];
    for (const entry of entries) expect(readCachedTimings(store(entry), ID), entry).toBeUndefined();
  });

  it('survives storage that throws, and no storage at all', () => {
    const broken = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    expect(readCachedTimings(broken, ID)).toBeUndefined();
    expect(() => cacheTimings(broken, ID, { webgpu: 1, wasm: 2 })).not.toThrow();
    expect(readCachedTimings(undefined, ID)).toBeUndefined();
  });
});
