// Reading an op's fields (layout.ts) and the addressing the elementwise and row-wise ops share.
import { CHUNK } from '../layout';

/** A pointer field of the op. */
export function ptr(op: usize, i: i32): usize {
  return <usize>load<u32>(op + ((<usize>i) << 2));
}

/** A count or code field of the op. */
export function int(op: usize, i: i32): i32 {
  return load<i32>(op + ((<usize>i) << 2));
}

/** An f32 field of the op (a scale stored as its bits). */
export function real(op: usize, i: i32): f32 {
  return load<f32>(op + ((<usize>i) << 2));
}

/** Tasks of CHUNK elements over n elements. */
export function chunks(n: i32): i32 {
  return (n + CHUNK - 1) / CHUNK;
}

/** Byte offset of element i. */
export function at(i: i32): usize {
  return (<usize>i) << 2;
}
