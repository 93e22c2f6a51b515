// What the wasm engine's unit tests share: a 1-thread and a 2-thread engine per test file, copying values
// in, a closeness check with a bound per element, and running the same ops on both engines with their
// outputs compared bit for bit.
import { afterAll, beforeAll, expect } from 'vitest';
import type { WasmBuffer } from '../../src/wasm/buffer';
import { WasmEngine } from '../../src/wasm/engine';
import type { AnyOp } from '../../src/wasm/program';

/** The unit roundoff of f32. */
export const U = 2 ** -24;

/** [1 thread, 2 threads], created before the file's tests and destroyed after them. */
export function useEngines(): WasmEngine[] {
  const engines: WasmEngine[] = [];
  beforeAll(async () => {
    engines.push(...(await Promise.all([1, 2].map((threads) => WasmEngine.create({ threads })))));
  });
  afterAll(() => {
    for (const e of engines.splice(0)) e.destroy();
  });
  return engines;
}

/** Copies values into a new buffer of `engine`. */
export function put(engine: WasmEngine, values: Float32Array, label: string): WasmBuffer {
  const b = engine.alloc(values.length, label);
  engine.f32(b).set(values);
  return b;
}

/** Checks |got − want| ≤ bound_i + rtol·|want| everywhere; reports the worst element. */
export function expectClose(
  got: Float32Array,
  want: ArrayLike<number>,
  bound: (i: number) => number,
  rtol: number,
  what: string,
) {
  let worst = -1;
  let excess = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) - bound(i) - rtol * Math.abs(want[i]);
    if (!(e <= excess)) {
      excess = e;
      worst = i;
    }
  }
  expect(worst < 0 ? null : `${what}: element ${worst}: ${got[worst]} vs ${want[worst]}`).toBeNull();
}

/** The bit patterns of f32 values, for exact comparisons that also tell −0 from 0 and see NaNs. */
export const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

/** Checks that two f32 arrays hold the same bits; reports the first difference (faster than toEqual). */
export function expectSameBits(got: Float32Array, want: Float32Array, what: string) {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let first = g.length === w.length ? -1 : Math.min(g.length, w.length);
  for (let i = 0; first < 0 && i < g.length; i++) if (g[i] !== w[i]) first = i;
  expect(first < 0 ? null : `${what}: element ${first}: ${got[first]} vs ${want[first]}`).toBeNull();
}

/**
 * Runs the same ops on every engine (inputs copied in, the program run `runs` times), checks that the
 * engines' `outputs` are bitwise equal, and returns each engine's copies of them.
 */
export async function onBoth(
  engines: WasmEngine[],
  inputs: Record<string, Float32Array>,
  ops: (b: Record<string, WasmBuffer>) => AnyOp[],
  outputs: string[],
  runs = 1,
): Promise<Record<string, Float32Array>[]> {
  const results: Record<string, Float32Array>[] = [];
  for (const engine of engines) {
    const b = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, put(engine, v, k)]));
    const program = engine.program(ops(b));
    for (let r = 0; r < runs; r++) await engine.run(program);
    results.push(Object.fromEntries(outputs.map((k) => [k, engine.f32(b[k]).slice()])));
    program.dispose();
    for (const x of Object.values(b)) engine.free(x);
  }
  for (const k of outputs) {
    for (const [i, r] of results.entries()) expectSameBits(r[k], results[0][k], `${k}: engine ${i} vs engine 0`);
  }
  return results;
}
