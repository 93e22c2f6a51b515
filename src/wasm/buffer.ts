// A region of the wasm engine's memory: `count` 4-byte elements (f32 or u32) at byte address `ptr`.
// Made by WasmEngine.alloc (a root, freed with WasmEngine.free) or by sub() (a window into a root that
// lives and dies with it). Only handles: the values are read and written through the engine's views.
import { DisposedError, InvalidArgumentError } from '../errors';

export class WasmBuffer {
  #freed = false;
  /** The allocation this is a window into; itself for a root. */
  readonly root: WasmBuffer;

  /** @internal made by WasmEngine.alloc and sub() */
  constructor(
    /** The engine that owns the memory (an identity, for checks). */
    readonly owner: object,
    /** Byte address in the engine's memory, 4-byte aligned (64 for roots). */
    readonly ptr: number,
    /** Elements (4 bytes each). */
    readonly count: number,
    readonly label: string,
    /** The allocation this is a window into; itself for a root. */
    root?: WasmBuffer,
  ) {
    this.root = root ?? this;
  }

  get bytes(): number {
    return this.count * 4;
  }

  get freed(): boolean {
    return this.root.#freed;
  }

  /** @internal WasmEngine.free */
  markFreed(): void {
    this.#freed = true;
  }

  /** Throws DisposedError if the memory behind this buffer was freed. */
  assertLive(op: string): void {
    if (this.freed) throw new DisposedError(`${op}: wasm buffer '${this.label}' was freed`);
  }

  /** Elements [offset, offset + count) of this buffer, as a buffer of their own (not freed separately). */
  sub(offset: number, count: number, label = `${this.label}[${offset}:${offset + count}]`): WasmBuffer {
    this.assertLive('sub');
    if (!Number.isInteger(offset) || !Number.isInteger(count) || offset < 0 || count < 0) {
      throw new InvalidArgumentError(`sub: offset ${offset} and count ${count} must be non-negative integers`);
    }
    if (offset + count > this.count) {
      throw new InvalidArgumentError(
        `sub: elements [${offset}, ${offset + count}) are past the end of '${this.label}' (${this.count} elements)`,
      );
    }
    return new WasmBuffer(this.owner, this.ptr + offset * 4, count, label, this.root);
  }
}
