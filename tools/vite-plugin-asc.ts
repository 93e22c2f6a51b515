// A Vite plugin that compiles AssemblyScript with asc's JavaScript API when a module imports
// `<entry>.ts?asc`: the import's default export holds the wasm builds of that entry as base64 strings,
// so the dev server, Vitest, the Playwright test server and the library build all get the kernels the
// same way and dist/ stays one self-contained file. No binary is committed and no native toolchain runs.
//
// Four builds of one source, picked at load time (src/wasm/kernels.ts): relaxed SIMD (fused multiply-add)
// or plain SIMD, times a shared memory (threads, cross-origin-isolated pages and Node) or an unshared one
// (a module built for a shared memory cannot import an unshared one). The source tells them apart with
// asc's compile-time constant ASC_FEATURE_RELAXED_SIMD.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import asc from 'assemblyscript/asc';
import type { Plugin } from 'vite';

const SUFFIX = '?asc';

export const VARIANTS = {
  relaxedShared: { relaxed: true, shared: true },
  relaxedUnshared: { relaxed: true, shared: false },
  plainShared: { relaxed: false, shared: true },
  plainUnshared: { relaxed: false, shared: false },
} as const;
export type Variant = keyof typeof VARIANTS;

// No GC or managed objects: the kernels work on raw pointers the host allocated (runtime stub, no abort
// import); memory is imported with room for wasm32's full 4 GiB.
const COMMON = [
  '-O3',
  '--runtime',
  'stub',
  '--noAssert',
  '--use',
  'abort=',
  '--importMemory',
  '--maximumMemory',
  '65536',
  '--enable',
  'simd',
  '--enable',
  'threads',
  // AS112 warns that exported v128 functions cannot be called from JavaScript; only run() and heapBase()
  // are exports of the entry, the rest are imports between AssemblyScript files.
  '--disableWarning',
  '112',
];

export interface Compiled {
  binaries: Record<Variant, Uint8Array>;
  /** Every source file asc read: the files a change to which must rebuild the kernels. */
  files: string[];
}

// Compiling four variants at -O3 takes seconds; the result is kept in node_modules/.cache keyed by asc's
// version, the flags and the contents of every file asc read, so an unchanged source is not rebuilt.
const CACHE_DIR = resolve(import.meta.dirname, '../node_modules/.cache/vite-plugin-asc');
const hash = (text: string) => createHash('sha256').update(text).digest('hex');

interface CacheEntry {
  key: string;
  files: Record<string, string>;
  binaries: Record<Variant, string>;
}

async function fromCache(file: string, key: string): Promise<Compiled | undefined> {
  try {
    const entry = JSON.parse(await readFile(file, 'utf8')) as CacheEntry;
    if (entry.key !== key) return undefined;
    for (const [path, digest] of Object.entries(entry.files)) {
      if (hash(await readFile(path, 'utf8')) !== digest) return undefined;
    }
    const binaries = Object.fromEntries(
      Object.entries(entry.binaries).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
    ) as Record<Variant, Uint8Array>;
    return { binaries, files: Object.keys(entry.files) };
  } catch {
    return undefined;
  }
}

/** Compiles `entry` (an absolute path) in every variant, or takes the cached build of unchanged sources. */
export async function compileVariants(entry: string): Promise<Compiled> {
  const key = hash(JSON.stringify([asc.version, COMMON, VARIANTS, entry]));
  const cacheFile = resolve(CACHE_DIR, `${hash(entry).slice(0, 16)}.json`);
  const cached = await fromCache(cacheFile, key);
  if (cached) return cached;
  const compiled = await compile(entry);
  const files = Object.fromEntries(
    await Promise.all(compiled.files.map(async (f) => [f, hash(await readFile(f, 'utf8'))] as const)),
  );
  const binaries = Object.fromEntries(
    Object.entries(compiled.binaries).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ) as Record<Variant, string>;
  try {
    await mkdir(CACHE_DIR, { recursive: true });
    await writeFile(cacheFile, JSON.stringify({ key, files, binaries } satisfies CacheEntry));
  } catch {
    // A read-only checkout still works, it just compiles every time.
  }
  return compiled;
}

/** Runs asc on `entry` for every variant; throws with asc's diagnostics on errors. */
async function compile(entry: string): Promise<Compiled> {
  const files = new Set<string>();
  const binaries = {} as Record<Variant, Uint8Array>;
  for (const [name, { relaxed, shared }] of Object.entries(VARIANTS) as [Variant, (typeof VARIANTS)[Variant]][]) {
    const args = [entry, '--outFile', 'kernels.wasm', ...COMMON];
    if (relaxed) args.push('--enable', 'relaxed-simd');
    if (shared) args.push('--sharedMemory');
    const diagnostics: string[] = [];
    const sink = {
      write: (text: string | Uint8Array) => {
        diagnostics.push(String(text));
      },
    };
    const result = await asc.main(args, {
      stdout: sink,
      stderr: sink,
      readFile: async (file, baseDir) => {
        const path = isAbsolute(file) ? file : resolve(baseDir, file);
        try {
          const text = await readFile(path, 'utf8');
          files.add(path);
          return text;
        } catch {
          return null;
        }
      },
      writeFile: (file, contents) => {
        if (file.endsWith('.wasm')) binaries[name] = contents as Uint8Array;
      },
    });
    if (result.error || !binaries[name]) {
      throw new Error(
        `asc could not compile ${entry} (${name}): ${result.error?.message ?? ''}\n${diagnostics.join('')}`,
      );
    }
  }
  return { binaries, files: [...files] };
}

/** The module a `?asc` import loads: { relaxedShared, relaxedUnshared, plainShared, plainUnshared }. */
function moduleCode({ binaries }: Compiled): string {
  const entries = Object.entries(binaries).map(([k, v]) => `  ${k}: '${Buffer.from(v).toString('base64')}',`);
  return `export default {\n${entries.join('\n')}\n};\n`;
}

export default function ascPlugin(): Plugin {
  return {
    name: 'asc',
    enforce: 'pre',
    async resolveId(source, importer) {
      if (!source.endsWith(SUFFIX)) return null;
      const resolved = await this.resolve(source.slice(0, -SUFFIX.length), importer, { skipSelf: true });
      return resolved ? resolved.id + SUFFIX : null;
    },
    async load(id) {
      if (!id.endsWith(SUFFIX)) return null;
      const compiled = await compileVariants(id.slice(0, -SUFFIX.length));
      // Vite re-runs load when a watched file changes (dev server, vitest --watch).
      for (const file of compiled.files) this.addWatchFile(file);
      return { code: moduleCode(compiled), map: null };
    },
  };
}
