// Argument checks shared by both backends and the network. Each throws InvalidArgumentError with the
// operation, the argument, the value and the rule, before anything is changed.
import { ACTIVATIONS, type Activation, type MatmulOptions } from './types';
import { InvalidArgumentError, describeValue } from './errors';

export function fail(op: string, arg: string, value: unknown, rule: string): never {
  throw new InvalidArgumentError(`${op}: ${arg} is ${describeValue(value)} (${rule})`);
}

export function checkPositiveInt(op: string, arg: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    fail(op, arg, value, 'expected a positive integer');
  }
  return value;
}

export function checkActivation(op: string, arg: string, value: unknown): Activation {
  if (!ACTIVATIONS.includes(value as Activation)) {
    fail(op, arg, value, `expected one of ${ACTIVATIONS.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as Activation;
}

export function checkLearningRate(op: string, arg: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(op, arg, value, 'expected a finite number > 0');
  }
  return value;
}

/** The data argument of matrix(): a Float32Array of exactly rows·cols finite values. */
export function checkMatrixData(op: string, rows: number, cols: number, data: unknown): Float32Array | undefined {
  if (data === undefined) return undefined;
  if (!(data instanceof Float32Array)) fail(op, 'data', data, 'expected a Float32Array');
  if (data.length !== rows * cols) {
    fail(op, 'data', data, `expected length rows·cols = ${rows}·${cols} = ${rows * cols}`);
  }
  return data;
}

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

interface Shape {
  rows: number;
  cols: number;
}

const dims = (m: Shape) => `${m.rows}×${m.cols}`;

/** Shape of op(a)·op(b) after the transpose options, or a clear error. */
export function matmulShape(a: Shape, b: Shape, opts: MatmulOptions = {}): { m: number; k: number; n: number } {
  const ta = !!opts.transposeA;
  const tb = !!opts.transposeB;
  const m = ta ? a.cols : a.rows;
  const k = ta ? a.rows : a.cols;
  const kb = tb ? b.cols : b.rows;
  const n = tb ? b.rows : b.cols;
  if (k !== kb) {
    const lhs = ta ? 'a.rows (a is transposed)' : 'a.cols';
    const rhs = tb ? 'b.cols (b is transposed)' : 'b.rows';
    throw new InvalidArgumentError(`matmul: a is ${dims(a)} but b is ${dims(b)} (${lhs} must equal ${rhs})`);
  }
  if (opts.bias !== undefined && (opts.bias.rows !== 1 || opts.bias.cols !== n)) {
    const rule = `expected 1×${n}, one value per output column`;
    throw new InvalidArgumentError(`matmul: bias is ${dims(opts.bias)} (${rule})`);
  }
  if (opts.activation !== undefined) checkActivation('matmul', 'activation', opts.activation);
  return { m, k, n };
}

export function checkSameShape(op: string, nameA: string, a: Shape, nameB: string, b: Shape): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new InvalidArgumentError(`${op}: ${nameA} is ${dims(a)} but ${nameB} is ${dims(b)} (shapes must match)`);
  }
}
