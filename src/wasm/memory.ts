// The wasm engine's memory: one WebAssembly.Memory and a first-fit allocator over it. Blocks are 64-byte
// aligned (a cache line: SIMD loads never split one, threads never share one); freed blocks merge with
// free neighbours, so a network built again after another was destroyed reuses the same bytes instead
// of growing the memory. Growth is checked against the memory's maximum (wasm32: 4 GiB) before
// anything changes. Not here: what the blocks hold (engine.ts, program.ts).
import { HostMemoryError } from '../errors';

export const PAGE = 65536;
export const ALIGN = 64;
/** wasm32 addresses 2^16 pages of 64 KiB. */
export const MAX_PAGES = 65536;

const mib = (bytes: number) => (bytes < 2 ** 20 ? `${bytes} bytes` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

interface Block {
  start: number;
  size: number;
}

/**
 * Creates the engine's memory. A shared memory must declare its maximum up front and the browser reserves
 * that much address space, which can fail on small devices: then a smaller maximum is tried. `limit` is
 * the maximum in bytes (JavaScript cannot read it back from the memory).
 */
export function createMemory(shared: boolean): { memory: WebAssembly.Memory; limit: number } {
  let error: unknown;
  for (const maximum of [MAX_PAGES, MAX_PAGES / 4, MAX_PAGES / 16]) {
    try {
      return { memory: new WebAssembly.Memory({ initial: 1, maximum, shared }), limit: maximum * PAGE };
    } catch (e) {
      error = e;
    }
  }
  throw new HostMemoryError(`wasm engine: could not create a${shared ? ' shared' : 'n'} WebAssembly.Memory: ${error}`);
}

/** First-fit allocator over [base, limit) of a WebAssembly.Memory, growing the memory on demand. */
export class Allocator {
  /** Free blocks below `top`, sorted by address, never adjacent (merged on free). */
  private readonly free: Block[] = [];
  private readonly used = new Map<number, { size: number; label: string }>();
  /** Everything at or above `top` is unallocated. */
  private top: number;
  #bytesInUse = 0;

  /**
   * @param base first usable address (the kernels' heap base)
   * @param limit one past the highest usable address: the memory's maximum
   */
  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
    readonly limit: number,
  ) {
    this.top = Math.ceil(base / ALIGN) * ALIGN;
  }

  get bytesInUse(): number {
    return this.#bytesInUse;
  }

  /** Bytes the memory holds now (it only grows). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Allocates `bytes` (rounded up to 64) at a 64-byte aligned address; throws HostMemoryError. */
  alloc(bytes: number, label: string): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    const i = this.free.findIndex((b) => b.size >= size);
    let start: number;
    if (i >= 0) {
      const block = this.free[i];
      start = block.start;
      if (block.size === size) this.free.splice(i, 1);
      else {
        block.start += size;
        block.size -= size;
      }
    } else {
      // A free block that ends at `top` is extended rather than left behind.
      const last = this.free[this.free.length - 1];
      start = last && last.start + last.size === this.top ? last.start : this.top;
      this.ensure(start + size, label, bytes);
      if (start !== this.top) this.free.pop();
      this.top = start + size;
    }
    this.used.set(start, { size, label });
    this.#bytesInUse += size;
    return start;
  }

  /** Returns a block to the free list, merging it with free neighbours. Freeing twice throws. */
  release(ptr: number): void {
    const entry = this.used.get(ptr);
    if (!entry) throw new Error(`wasm engine: free of address ${ptr}, which is not an allocated block`);
    this.used.delete(ptr);
    this.#bytesInUse -= entry.size;
    let block: Block = { start: ptr, size: entry.size };
    let i = this.free.findIndex((b) => b.start > ptr);
    if (i < 0) i = this.free.length;
    const prev = this.free[i - 1];
    if (prev && prev.start + prev.size === block.start) {
      prev.size += block.size;
      block = prev;
      i--;
    } else {
      this.free.splice(i, 0, block);
    }
    const next = this.free[i + 1];
    if (next && block.start + block.size === next.start) {
      block.size += next.size;
      this.free.splice(i + 1, 1);
    }
    // The last free block, touching `top`, becomes part of the space above it again.
    if (block.start + block.size === this.top) {
      this.top = block.start;
      this.free.splice(i, 1);
    }
  }

  /** The label an allocated block was made with (for messages). */
  labelOf(ptr: number): string | undefined {
    return this.used.get(ptr)?.label;
  }

  /** Grows the memory so that [0, end) is addressable, or throws before changing anything. */
  private ensure(end: number, label: string, bytes: number): void {
    if (end > this.limit) {
      throw new HostMemoryError(
        `wasm engine: allocating ${mib(bytes)} for '${label}' needs memory up to ${mib(end)}, over the ` +
          `${mib(this.limit)} this engine's WebAssembly.Memory can hold (wasm32 addresses at most 4 GiB); ` +
          `${mib(this.#bytesInUse)} are in use`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new HostMemoryError(
        `wasm engine: allocating ${mib(bytes)} for '${label}': the browser refused to grow the ` +
          `WebAssembly.Memory from ${mib(have)} to ${mib(have + pages * PAGE)} (${e})`,
      );
    }
  }
}
