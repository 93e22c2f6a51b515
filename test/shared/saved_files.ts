// Fuzzing Network.fromJSON with mutated saved files (fast-check): every mutation must either load into a
// network that predicts exactly like the original, or be rejected with the library's own error (an
// instance of the exported BackpropError) — never an engine error — and leave nothing allocated. Runs on
// any backend: in Node on the CPU backend (test/unit), in the browser on WebGPU (test/browser).
import fc from 'fast-check';
import type * as Lib from '../../src/index';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A change to a saved file, described for the failure report. */
interface Mutation {
  what: string;
  apply: (file: { [key: string]: Json }) => Json | string;
}

/** Every path to a value in a JSON tree, as key lists. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((v, i) => paths(v, [...prefix, i]))];
  if (value !== null && typeof value === 'object') {
    return [prefix, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
  }
  return [prefix];
}

function clone(file: Json): Json {
  return JSON.parse(JSON.stringify(file));
}

/** Sets (or, with remove, deletes) the value at `path` in a copy of `file`. */
function edit(file: Json, path: (string | number)[], value: Json | undefined, remove = false): Json {
  const copy = clone(file);
  if (path.length === 0) return value ?? null;
  let parent = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
  const last = path[path.length - 1];
  if (remove) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    parent[last] = value as Json;
  }
  return copy;
}

function at(file: Json, path: (string | number)[]): Json {
  let v = file;
  for (const key of path) v = (v as Record<string | number, Json>)[key];
  return v;
}

/** Little-endian f32 values as base64, like the saved format. */
function base64(values: number[]): string {
  const bytes = new Uint8Array(Float32Array.from(values).buffer);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

const typeOf = (v: Json) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** The kinds of damage a saved file meets: cut, grown, wrong types, NaN, bad sizes, unknown keys, nesting. */
function mutations(original: { [key: string]: Json }): fc.Arbitrary<Mutation> {
  const all = paths(original).filter((p) => p.length > 0);
  const numbers = all.filter((p) => typeof at(original, p) === 'number');
  const strings = all.filter((p) => typeof at(original, p) === 'string');
  const containers = [[], ...all].filter((p) => typeof at(original, p) === 'object' && at(original, p) !== null);
  const sizes = all.filter((p) => ['inputSize', 'units'].includes(String(p[p.length - 1])));
  const tensors = strings.filter((p) => p.includes('weights') || p.includes('optimizerState'));
  const path = (list: (string | number)[][]) => fc.constantFrom(...list);
  const other = (v: Json) => fc.jsonValue().filter((x) => typeOf(x as Json) !== typeOf(v)) as fc.Arbitrary<Json>;
  return fc.oneof(
    path(all).map((p): Mutation => ({ what: `cut ${p.join('.')}`, apply: (f) => edit(f, p, undefined, true) })),
    fc.tuple(path(strings), fc.nat()).map(
      ([p, n]): Mutation => ({
        what: `cut the string at ${p.join('.')} to ${n} characters`,
        apply: (f) => edit(f, p, String(at(f, p)).slice(0, n % Math.max(1, String(at(f, p)).length))),
      }),
    ),
    fc.tuple(path(tensors), fc.constantFrom('AAAA', 'A', '====', '!!!!')).map(
      ([p, extra]): Mutation => ({
        what: `grow ${p.join('.')} by ${extra}`,
        apply: (f) => edit(f, p, `${at(f, p)}${extra}`),
      }),
    ),
    path(all).chain((p) =>
      other(at(original, p)).map(
        (v): Mutation => ({
          what: `${p.join('.')} becomes ${JSON.stringify(v).slice(0, 40)}`,
          apply: (f: { [key: string]: Json }) => edit(f, p, v),
        }),
      ),
    ),
    fc.tuple(path(numbers), fc.constantFrom(NaN, Infinity, -Infinity)).map(
      ([p, v]): Mutation => ({
        what: `${p.join('.')} becomes ${v}`,
        apply: (f) => edit(f, p, v),
      }),
    ),
    fc.tuple(path(tensors), fc.constantFrom(NaN, Infinity)).map(
      ([p, v]): Mutation => ({
        what: `a ${v} inside ${p.join('.')}`,
        apply: (f) => {
          const n = Math.round((String(at(f, p)).length * 3) / 16); // f32 values in the tensor
          return edit(f, p, base64(Array.from({ length: Math.max(1, n) }, (_, i) => (i === 0 ? v : 0.5))));
        },
      }),
    ),
    fc.tuple(path(sizes), fc.constantFrom(1e9, 2 ** 31, 2 ** 53, 1e300, -1, 0, 2.5, 1)).map(
      ([p, v]): Mutation => ({
        what: `${p.join('.')} becomes ${v}`,
        apply: (f) => edit(f, p, v === 1 ? (at(f, p) as number) + 1 : v),
      }),
    ),
    fc.tuple(path(containers), fc.string({ maxLength: 8 }), fc.jsonValue()).map(
      ([p, k, v]): Mutation => ({
        what: `unknown key ${JSON.stringify(k)} in ${p.join('.') || 'the file'}`,
        apply: (f) => {
          const target = at(f, p);
          if (Array.isArray(target)) return edit(f, [...p, target.length], v as Json);
          return edit(f, [...p, `x-${k}`], v as Json);
        },
      }),
    ),
    fc.tuple(path(all), fc.integer({ min: 1, max: 5000 })).map(
      ([p, depth]): Mutation => ({
        what: `${p.join('.')} nested ${depth} arrays deep`,
        apply: (f) => {
          let v: Json = 1;
          for (let i = 0; i < depth; i++) v = [v];
          return edit(f, p, v);
        },
      }),
    ),
    fc.integer({ min: 0, max: 200 }).map(
      (n): Mutation => ({
        what: `the JSON text cut to ${n} characters, or nested 100,000 deep`,
        apply: (f) => (n === 0 ? '['.repeat(100_000) : JSON.stringify(f).slice(0, n)),
      }),
    ),
  );
}

export interface FuzzReport {
  runs: number;
  loaded: number;
  rejected: number;
  /** Error names seen, with counts. */
  errors: Record<string, number>;
  /** The first counterexample fast-check found, if any. */
  failure: string | null;
}

/**
 * Runs `runs` mutated copies of a trained network's saved file through Network.fromJSON on `backend`.
 * `live` counts what the backend holds (GPU buffers), to check that nothing stays behind.
 */
export async function fuzzSavedFiles(
  WB: typeof Lib,
  backend: Lib.Backend,
  runs: number,
  seed: number,
  live: () => number = () => 0,
): Promise<FuzzReport> {
  const net = new WB.Network(backend, {
    inputSize: 3,
    layers: [
      { units: 5, activation: 'relu' },
      { units: 2, activation: 'sigmoid' },
    ],
    optimizer: { type: 'adam', learningRate: 0.01 },
    seed: 4,
  });
  const x = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));
  await net.fit(
    x,
    Float32Array.from({ length: 8 }, (_, i) => i % 2),
    { epochs: 2, batchSize: 2 },
  );
  const original = JSON.parse(JSON.stringify(net)) as { [key: string]: Json };
  const expected = await net.predict(x);
  net.destroy();
  const report: FuzzReport = { runs, loaded: 0, rejected: 0, errors: {}, failure: null };
  const property = fc.asyncProperty(mutations(original), async (m) => {
    const before = live();
    let loaded: Lib.Network | undefined;
    try {
      loaded = WB.Network.fromJSON(backend, m.apply(original));
    } catch (e) {
      if (!(e instanceof WB.BackpropError)) throw new Error(`${m.what}: an engine error: ${String(e)}`);
      report.rejected++;
      report.errors[e.name] = (report.errors[e.name] ?? 0) + 1;
      if (live() !== before) throw new Error(`${m.what}: rejected, but ${live() - before} buffers stayed`);
      return;
    }
    try {
      const got = await loaded.predict(x);
      const same = got.length === expected.length && got.every((v, i) => Object.is(v, expected[i]));
      if (!same) throw new Error(`${m.what}: loaded, but predicts [${[...got].slice(0, 4)}…] not the original's`);
      report.loaded++;
    } finally {
      loaded.destroy();
    }
    if (live() !== before) throw new Error(`${m.what}: loaded and destroyed, but ${live() - before} buffers stayed`);
  });
  const result = await fc.check(property, { numRuns: runs, seed });
  if (result.failed)
    report.failure = String((result.errorInstance as Error | undefined)?.message ?? result.counterexample);
  return report;
}
