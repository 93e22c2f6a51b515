// Bookkeeping shared by both backends' matrices: shape, ownership and the disposed state.
import type { Matrix } from './types';
import { DisposedError, InvalidArgumentError, describeValue } from './errors';

export abstract class BaseMatrix implements Matrix {
  #disposed = false;
  constructor(
    readonly owner: object,
    readonly rows: number,
    readonly cols: number,
    readonly label: string,
  ) {}

  get disposed(): boolean {
    return this.#disposed;
  }

  get size(): number {
    return this.rows * this.cols;
  }

  abstract read(): Promise<Float32Array>;
  protected abstract free(): void;

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.free();
  }

  /** Throws DisposedError if this matrix was disposed. */
  assertLive(op: string): void {
    if (this.#disposed)
      throw new DisposedError(`${op}: matrix '${this.label}' (${this.rows}×${this.cols}) was disposed`);
  }
}

/** Checks that `m` is a live matrix made by `owner` (a backend), and narrows its type. */
export function ownMatrix<T extends BaseMatrix>(
  ctor: abstract new (...args: never[]) => T,
  owner: object,
  op: string,
  arg: string,
  m: unknown,
): T {
  if (!(m instanceof ctor)) {
    throw new InvalidArgumentError(`${op}: ${arg} is ${describeValue(m)} (expected a Matrix made by this backend)`);
  }
  if (m.owner !== owner) {
    throw new InvalidArgumentError(
      `${op}: ${arg} belongs to another backend (matrices cannot be mixed across backends)`,
    );
  }
  m.assertLive(op);
  return m;
}
