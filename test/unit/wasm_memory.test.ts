// The wasm engine's memory: first-fit allocation with coalescing (freed memory is reused, not grown), the
// 4 GiB wasm32 ceiling checked before anything is allocated, and an engine that builds and drops
// programs 200 times without its memory growing.
import { describe, expect, it } from 'vitest';
import { HostMemoryError } from '../../src/errors';
import { WasmEngine } from '../../src/wasm/engine';
import { ALIGN, Allocator, PAGE } from '../../src/wasm/memory';

/** An allocator over a fresh memory of at most `pages` pages, from address 1024. */
function allocator(pages = 64): Allocator {
  return new Allocator(new WebAssembly.Memory({ initial: 1, maximum: pages }), 1024, pages * PAGE);
}

describe('Allocator', () => {
  it('aligns every block to 64 bytes and rounds sizes up', () => {
    const heap = allocator();
    const ptrs = [1, 63, 64, 65, 1000].map((n) => heap.alloc(n, 'x'));
    for (const p of ptrs) expect(p % ALIGN).toBe(0);
    expect(ptrs).toEqual([1024, 1088, 1152, 1216, 1344]);
    expect(heap.bytesInUse).toBe(64 + 64 + 64 + 128 + 1024);
  });

  it('reuses a freed block first-fit, and merges freed neighbours', () => {
    const heap = allocator();
    const [a, b, c, d] = [256, 256, 256, 256].map((n) => heap.alloc(n, 'x'));
    heap.release(b);
    expect(heap.alloc(128, 'small')).toBe(b); // first fit, split
    heap.release(b);
    heap.release(c); // merges with b's block
    expect(heap.alloc(512, 'both')).toBe(b);
    heap.release(a);
    heap.release(b);
    heap.release(d);
    expect(heap.bytesInUse).toBe(0);
    // Everything merged back into the space above: one big block starts at the bottom again.
    expect(heap.alloc(4096, 'all')).toBe(a);
  });

  it('grows the memory only when no free block fits, and throws on a double free', () => {
    const heap = allocator();
    const before = heap.memoryBytes;
    const big = heap.alloc(3 * PAGE, 'big');
    expect(heap.memoryBytes).toBeGreaterThan(before);
    const grown = heap.memoryBytes;
    heap.release(big);
    for (let round = 0; round < 200; round++) {
      const blocks = [PAGE, 100, PAGE / 2, 7000].map((n) => heap.alloc(n, `r${round}`));
      for (const p of blocks.reverse()) heap.release(p);
    }
    expect(heap.memoryBytes).toBe(grown);
    expect(() => heap.release(big)).toThrow(/not an allocated block/);
  });

  it('checks the limit before changing anything', () => {
    const heap = allocator(4);
    const a = heap.alloc(PAGE, 'a');
    const [memory, used] = [heap.memoryBytes, heap.bytesInUse];
    expect(() => heap.alloc(4 * PAGE, 'too big')).toThrow(HostMemoryError);
    expect(() => heap.alloc(4 * PAGE, 'too big')).toThrow(
      /'too big' needs memory up to 328704 bytes, over the 262144 bytes/,
    );
    expect([heap.memoryBytes, heap.bytesInUse]).toEqual([memory, used]);
    heap.release(a);
    expect(heap.alloc(2 * PAGE, 'fits')).toBe(1024);
  });
});

describe('WasmEngine memory', () => {
  it('refuses an allocation past 4 GiB with the sizes, before allocating', async () => {
    const engine = await WasmEngine.create({ threads: 1 });
    const [memory, used] = [engine.memoryBytes, engine.bytesInUse];
    const attempt = () => engine.alloc(2 ** 30, 'layer0.weights'); // 4 GiB of f32
    expect(attempt).toThrow(HostMemoryError);
    expect(attempt).toThrow(/'layer0\.weights' needs memory up to 4096\.\d MiB, over the 4096\.0 MiB .*wasm32/);
    expect([engine.memoryBytes, engine.bytesInUse]).toEqual([memory, used]);
    engine.destroy();
  });

  it('reuses memory over 200 rounds of allocate, run, free', async () => {
    const engine = await WasmEngine.create({ threads: 2 });
    const round = async (r: number) => {
      const x = engine.alloc(64 * 100 + r, 'x');
      const w = engine.alloc(100 * 50, 'w');
      const y = engine.alloc(64 * 50, 'y');
      engine.f32(x).fill(1);
      engine.f32(w).fill(0.5);
      const program = engine.program([{ op: 'gemm', a: x, b: w, c: y, m: 64, n: 50, k: 100, activation: 'relu' }]);
      await engine.run(program);
      expect(engine.f32(y)[0]).toBe(50);
      program.dispose();
      for (const b of [x, w, y]) engine.free(b);
    };
    await round(0);
    const [memory, used] = [engine.memoryBytes, engine.bytesInUse];
    for (let r = 1; r < 200; r++) await round(r % 7);
    expect([engine.memoryBytes, engine.bytesInUse]).toEqual([memory, used]);
    engine.destroy();
  });

  it('lets a buffer be freed while a run that uses it is in flight, and rejects runs after destroy', async () => {
    const engine = await WasmEngine.create({ threads: 2 });
    const x = engine.alloc(1 << 20, 'x');
    const program = engine.program([{ op: 'fill', dst: x, value: 3 }]);
    const running = engine.run(program);
    engine.free(x); // the run was started: it still owns the bytes
    const y = engine.alloc(1 << 20, 'y');
    expect(y.ptr).not.toBe(x.ptr);
    await running;
    const again = engine.run(program);
    await expect(again).rejects.toThrow(/'x' was freed/);
    engine.destroy();
    await expect(engine.run(program)).rejects.toThrow(/destroyed/);
  });
});
