// Checks a program's ops (program.ts documents each one) and encodes them into the words the kernels'
// interpreter reads (layout.ts), with the shared scratch each needs. Nothing here touches memory: the
// engine writes the words and sizes the scratch.
import { InvalidArgumentError } from '../errors';
import type { WasmBuffer } from './buffer';
import * as L from './layout';
import { ACTIVATION_CODE, type AnyOp, type CrossEntropyOp, type EngineActivation, type GemmOp } from './program';

/** What encoding a program produced: its words, the shared scratch it needs, the buffers it touches. */
export interface Encoded {
  words: Int32Array;
  sharedBytes: number;
  buffers: Set<WasmBuffer>;
}

const f32bits = (x: number) => new Int32Array(Float32Array.of(x).buffer)[0];
const ceilTo = (x: number, q: number) => Math.ceil(x / q) * q;

/** Encodes ops into one program for an engine with `threads` threads; throws InvalidArgumentError. */
export function encodeProgram(ops: readonly AnyOp[], owner: object, threads: number): Encoded {
  const out: number[] = [];
  const buffers = new Set<WasmBuffer>();
  let sharedBytes = 0;
  ops.forEach((op, i) => {
    const where = `program op ${i} (${(op as { op?: unknown })?.op})`;
    const c = new Checker(where, owner, buffers);
    const words = encodeOp(op, c, threads);
    words[1] = words.length;
    out.push(...words);
    sharedBytes = Math.max(sharedBytes, c.sharedBytes);
  });
  out.push(L.OP_END, 2);
  return { words: Int32Array.from(out, (w) => w | 0), sharedBytes, buffers };
}

/** Argument checks for one op; remembers its buffers and the scratch it needs. */
class Checker {
  sharedBytes = 0;
  constructor(
    readonly where: string,
    private readonly owner: object,
    private readonly buffers: Set<WasmBuffer>,
  ) {}

  fail(rule: string): never {
    throw new InvalidArgumentError(`${this.where}: ${rule}`);
  }

  count(name: string, value: unknown, min = 1): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
      this.fail(`${name} is ${String(value)} (expected an integer ≥ ${min})`);
    }
    return value;
  }

  /** Checks `b` is a live buffer of this engine with at least `need` elements; returns its address. */
  buffer(name: string, b: unknown, need: number): number {
    const buf = b as WasmBuffer;
    if (!buf || typeof buf !== 'object' || buf.owner !== this.owner) {
      this.fail(`${name} is not a buffer of this engine`);
    }
    buf.assertLive(this.where);
    if (need > buf.count) this.fail(`${name} '${buf.label}' has ${buf.count} elements, needs ${need}`);
    this.buffers.add(buf.root);
    return buf.ptr;
  }

  optional(name: string, b: WasmBuffer | undefined, need: number): number {
    return b === undefined ? 0 : this.buffer(name, b, need);
  }

  /** Refuses any overlap of the first `ea` elements of a with the first `eb` of b, except exact aliasing. */
  disjoint(
    na: string,
    a: WasmBuffer | undefined,
    ea: number,
    nb: string,
    b: WasmBuffer | undefined,
    eb: number,
    alias = false,
  ) {
    if (!a || !b) return;
    if (alias && a.ptr === b.ptr && ea === eb) return;
    if (a.ptr < b.ptr + eb * 4 && b.ptr < a.ptr + ea * 4) {
      this.fail(`${na} '${a.label}' overlaps ${nb} '${b.label}'${alias ? ' (only exact aliasing is allowed)' : ''}`);
    }
  }

  /** Pairwise disjoint (no exact aliasing either): [name, buffer or undefined, elements used]. */
  apart(named: [string, WasmBuffer | undefined, number][]) {
    for (let i = 0; i < named.length; i++) {
      for (let j = i + 1; j < named.length; j++) this.disjoint(...named[i], ...named[j]);
    }
  }

  /** The f32 bits of a finite number. */
  scale(name: string, value: unknown): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.fail(`${name} is ${String(value)} (expected a finite number)`);
    }
    return f32bits(value);
  }

  activation(value: unknown): number {
    const name = (value ?? 'linear') as EngineActivation;
    const code = Object.hasOwn(ACTIVATION_CODE, name) ? ACTIVATION_CODE[name] : undefined;
    if (code === undefined) this.fail(`activation is ${String(value)} (expected linear, relu, sigmoid or tanh)`);
    return code;
  }
}

function encodeOp(op: AnyOp, c: Checker, threads: number): number[] {
  switch (op?.op) {
    case 'gemm':
      return encodeGemm(op, c, threads);
    case 'activation': {
      const n = c.count('n', op.n ?? op.x?.count);
      const x = c.buffer('x', op.x, n);
      const y = c.buffer('y', op.y, n);
      c.disjoint('y', op.y, n, 'x', op.x, n, true);
      return [L.OP_ACTIVATION, 0, x, y, n, c.activation(op.activation)];
    }
    case 'activationGrad': {
      const n = c.count('n', op.n ?? op.y?.count);
      const words = [L.OP_ACTIVATION_GRAD, 0, c.buffer('y', op.y, n), c.buffer('dy', op.dy, n)];
      words.push(c.buffer('out', op.out, n), n, c.activation(op.activation));
      c.disjoint('out', op.out, n, 'y', op.y, n, true);
      c.disjoint('out', op.out, n, 'dy', op.dy, n, true);
      return words;
    }
    case 'biasGrad': {
      const m = c.count('m', op.m);
      const n = c.count('n', op.n);
      const words = [L.OP_BIAS_GRAD, 0, c.buffer('dz', op.dz, m * n), c.buffer('out', op.out, n), m, n];
      words.push(op.accumulate ? 1 : 0);
      c.disjoint('out', op.out, n, 'dz', op.dz, m * n);
      return words;
    }
    case 'mseLoss':
    case 'mseGrad': {
      const n = c.count('n', op.n ?? op.p?.count);
      const scale = c.scale('scale', op.scale);
      const words = [op.op === 'mseLoss' ? L.OP_MSE_LOSS : L.OP_MSE_GRAD, 0, c.buffer('p', op.p, n)];
      words.push(c.buffer('t', op.t, n));
      if (op.op === 'mseLoss') {
        words.push(c.buffer('out', op.out, 1), n, scale, op.accumulate ? 1 : 0);
        c.disjoint('out', op.out, 1, 'p', op.p, n);
        c.disjoint('out', op.out, 1, 't', op.t, n);
        c.sharedBytes = Math.ceil(n / L.CHUNK) * 8;
      } else {
        words.push(c.buffer('g', op.g, n), n, scale, c.activation(op.activation));
        c.disjoint('g', op.g, n, 'p', op.p, n, true);
        c.disjoint('g', op.g, n, 't', op.t, n, true);
      }
      return words;
    }
    case 'sgd':
    case 'momentum':
    case 'adam': {
      const n = c.count('n', op.n ?? op.p?.count);
      const kind = { sgd: L.OPT_SGD, momentum: L.OPT_MOMENTUM, adam: L.OPT_ADAM }[op.op];
      const s1 = op.op === 'sgd' ? 0 : c.buffer('s1', op.s1, n);
      const s2 = op.op === 'adam' ? c.buffer('s2', op.s2, n) : 0;
      const words = [L.OP_OPTIMIZER, 0, kind, c.buffer('p', op.p, n), c.buffer('g', op.g, n), s1, s2, n];
      words.push(c.buffer('hyper', op.hyper, L.HYPER_WORDS), op.decay ? 1 : 0);
      c.apart([
        ['p', op.p, n],
        ['g', op.g, n],
        ['s1', s1 ? op.s1 : undefined, n],
        ['s2', s2 ? op.s2 : undefined, n],
        ['hyper', op.hyper, L.HYPER_WORDS],
      ]);
      return words;
    }
    case 'softmax': {
      const m = c.count('m', op.m);
      const n = c.count('n', op.n);
      const words = [L.OP_SOFTMAX, 0, c.buffer('x', op.x, m * n), c.buffer('y', op.y, m * n), m, n];
      c.disjoint('y', op.y, m * n, 'x', op.x, m * n, true);
      return words;
    }
    case 'softmaxGrad': {
      const m = c.count('m', op.m);
      const n = c.count('n', op.n);
      const words = [L.OP_SOFTMAX_GRAD, 0, c.buffer('y', op.y, m * n), c.buffer('dy', op.dy, m * n)];
      words.push(c.buffer('out', op.out, m * n), m, n);
      c.disjoint('out', op.out, m * n, 'y', op.y, m * n, true);
      c.disjoint('out', op.out, m * n, 'dy', op.dy, m * n, true);
      return words;
    }
    case 'crossEntropy':
      return encodeCrossEntropy(op, c);
    case 'gather': {
      const rows = c.count('rows', op.rows);
      const cols = c.count('cols', op.cols);
      const words = [L.OP_GATHER, 0, c.buffer('src', op.src, cols), c.buffer('idx', op.idx, rows)];
      words.push(c.buffer('out', op.out, rows * cols), rows, cols, c.optional('offset', op.offset, 1));
      words.push(Math.floor(op.src.count / cols));
      c.disjoint('out', op.out, rows * cols, 'src', op.src, op.src.count);
      c.disjoint('out', op.out, rows * cols, 'idx', op.idx, op.idx.count);
      return words;
    }
    case 'copy': {
      const n = c.count('n', op.n ?? op.src?.count);
      const words = [L.OP_COPY, 0, c.buffer('src', op.src, n), c.buffer('dst', op.dst, n), n];
      c.disjoint('dst', op.dst, n, 'src', op.src, n);
      return words;
    }
    case 'fill': {
      const n = c.count('n', op.n ?? op.dst?.count);
      if (typeof op.value !== 'number') c.fail(`value is ${String(op.value)} (expected a number)`);
      return [L.OP_FILL, 0, c.buffer('dst', op.dst, n), n, f32bits(op.value)];
    }
    default:
      return c.fail(
        'unknown op (expected gemm, activation, activationGrad, biasGrad, mseLoss, mseGrad, sgd, ' +
          'momentum, adam, softmax, softmaxGrad, crossEntropy, gather, copy or fill)',
      );
  }
}

function encodeCrossEntropy(op: CrossEntropyOp, c: Checker): number[] {
  const m = c.count('m', op.m);
  const n = c.count('n', op.n);
  const lossScale = c.scale('lossScale', op.lossScale);
  if (op.dz && op.gradScale === undefined) c.fail('dz needs gradScale (dz = (P − t)·gradScale)');
  const gradScale = op.dz ? c.scale('gradScale', op.gradScale) : 0;
  const words = [L.OP_CROSS_ENTROPY, 0, c.buffer('z', op.z, m * n), c.buffer('t', op.t, m * n), m, n];
  words.push(c.buffer('loss', op.loss, 1), lossScale, op.accumulate ? 1 : 0);
  words.push(c.optional('correct', op.correct, 1), c.optional('dz', op.dz, m * n), gradScale);
  c.apart([
    ['z', op.z, m * n],
    ['t', op.t, m * n],
    ['loss', op.loss, 1],
    ['correct', op.correct, 1],
    ['dz', op.dz, m * n],
  ]);
  // One 16-byte partial (f64 loss, i32 count) per task of whole rows.
  c.sharedBytes = Math.ceil(m / Math.max(1, Math.floor(L.ROW_CHUNK / n))) * 16;
  return words;
}

function encodeGemm(op: GemmOp, c: Checker, threads: number): number[] {
  const m = c.count('m', op.m);
  const n = c.count('n', op.n);
  const k = c.count('k', op.k);
  const transA = op.transA === true;
  const transB = op.transB === true;
  const lda = c.count('lda', op.lda ?? (transA ? m : k), transA ? m : k);
  const ldb = c.count('ldb', op.ldb ?? (transB ? k : n), transB ? k : n);
  const ldc = c.count('ldc', op.ldc ?? n, n);
  const aElems = transA ? (k - 1) * lda + m : (m - 1) * lda + k;
  const bElems = transB ? (n - 1) * ldb + k : (k - 1) * ldb + n;
  const cElems = (m - 1) * ldc + n;
  const epilogues = { forward: L.EPI_FORWARD, grad: L.EPI_GRAD, sgd: L.EPI_SGD, add: L.EPI_ADD };
  const name = op.epilogue ?? 'forward';
  const epi = Object.hasOwn(epilogues, name) ? epilogues[name] : undefined;
  if (epi === undefined) c.fail(`epilogue is ${String(op.epilogue)} (expected forward, grad, sgd or add)`);
  const act = c.activation(op.activation);
  if (epi !== L.EPI_FORWARD && op.bias) c.fail(`bias is only for the forward epilogue`);
  if (epi === L.EPI_GRAD && !op.aux) c.fail(`the grad epilogue needs aux (the m×n outputs Y)`);
  if ('lr' in op) c.fail(`lr was replaced by hyper (the optimizers' block: lr at word 0, wd at word 6)`);
  if (epi === L.EPI_SGD && !op.hyper) c.fail(`the sgd epilogue needs hyper (lr at word 0, wd at word 6)`);
  const words = [L.OP_GEMM, 0, c.buffer('a', op.a, aElems), c.buffer('b', op.b, bElems), c.buffer('c', op.c, cElems)];
  words.push(m, n, k, lda, ldb, ldc);
  words.push(
    (transA ? L.FLAG_TRANS_A : 0) |
      (transB ? L.FLAG_TRANS_B : 0) |
      (epi << L.FLAG_EPI_SHIFT) |
      (act << L.FLAG_ACT_SHIFT),
  );
  words.push(epi === L.EPI_FORWARD ? c.optional('bias', op.bias, n) : 0);
  words.push(epi === L.EPI_GRAD ? c.buffer('aux', op.aux, cElems) : 0);
  words.push(epi === L.EPI_SGD ? c.buffer('hyper', op.hyper, L.HYPER_WORDS) : 0);
  c.disjoint('c', op.c, cElems, 'a', op.a, aElems);
  c.disjoint('c', op.c, cElems, 'b', op.b, bElems);
  if (epi === L.EPI_FORWARD) c.disjoint('c', op.c, cElems, 'bias', op.bias, n);
  if (epi === L.EPI_GRAD) c.disjoint('c', op.c, cElems, 'aux', op.aux, cElems, true);
  if (epi === L.EPI_SGD) c.disjoint('c', op.c, cElems, 'hyper', op.hyper, L.HYPER_WORDS);
  // Pack A and B whole when they fit PACK_FLOATS each, else in chunks of rows / columns.
  const mChunk = Math.min(ceilTo(m, L.MR), Math.max(1, Math.floor(L.PACK_FLOATS / (k * L.MR))) * L.MR);
  const nChunk = Math.min(ceilTo(n, L.NR), Math.max(1, Math.floor(L.PACK_FLOATS / (k * L.NR))) * L.NR);
  const { mc, nc } = tiles(mChunk, nChunk, threads);
  words.push(mChunk, nChunk, mc, nc);
  c.sharedBytes = ceilTo(mChunk * k * 4, 64) + nChunk * k * 4;
  return words;
}

/**
 * Output tile size: the largest (MC×NC) unless that leaves fewer than two tiles per thread, then halved
 * (columns first) down to MR·2 × NR·4. Tiles only decide who computes what, never how: results are the
 * same for every choice.
 */
export function tiles(mChunk: number, nChunk: number, threads: number): { mc: number; nc: number } {
  let mc = Math.min(L.MC, mChunk);
  let nc = Math.min(L.NC, nChunk);
  const count = () => Math.ceil(mChunk / mc) * Math.ceil(nChunk / nc);
  while (threads > 1 && count() < 2 * threads) {
    if (nc > 4 * L.NR) nc = ceilTo(nc / 2, L.NR);
    else if (mc > 2 * L.MR) mc = ceilTo(mc / 2, L.MR);
    else break;
  }
  return { mc, nc };
}
