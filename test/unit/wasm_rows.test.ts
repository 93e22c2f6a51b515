// The wasm engine's row-wise ops (softmax, softmaxGrad, crossEntropy) against plain f64 loops written here,
// on ragged shapes and on logits of ±80 (where the results are exact), every alias the ops allow, and
// 1 thread against 2, bit for bit.
import { describe, expect, it } from 'vitest';
import { ROW_CHUNK } from '../../src/wasm/layout';
import { bits, expectClose, onBoth, U, useEngines } from './wasm_helpers';
import { random } from './wasm_reference';

const engines = useEngines();

// 1×1, ragged rows around the vector width, one task of rows (65×10), several tasks of ⌊ROW_CHUNK / n⌋
// rows (33×129: 7 rows each; 257×10: 102 each) with a short last one.
const SHAPES = [
  [1, 1],
  [7, 13],
  [65, 10],
  [33, 129],
  [257, 10],
];

/** Logits in [−8, 8), with a tie for the maximum in row 1 (entries 1 and 2); or each ±80. */
function logits(m: number, n: number, huge: boolean): Float32Array {
  if (huge) return Float32Array.from(random(m * n, 40 + n), (v) => (v < 0 ? -80 : 80));
  const z = random(m * n, 41 + n, -8, 8);
  if (m > 1 && n > 2) z.set([9, 9], n + 1);
  return z;
}

/** One-hot rows (row 1 at the first of its tied maxima), every third row soft with a tie at 0 and 1. */
function targets(m: number, n: number): Float32Array {
  const t = new Float32Array(m * n);
  const pick = random(m, 42 + n, 0, 1);
  for (let r = 0; r < m; r++) {
    if (r % 3 === 2 && n > 2) {
      t.set([0.375, 0.375, 0.25], r * n);
    } else {
      t[r * n + (r === 1 && n > 2 ? 1 : Math.floor(pick[r] * n))] = 1;
    }
  }
  return t;
}

/** exp(x − max) / Σ exp(x − max) per row, f64. */
function softmaxRef(x: Float32Array, m: number, n: number): Float64Array {
  const p = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, x[r * n + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[r * n + j] - max);
    for (let j = 0; j < n; j++) p[r * n + j] = Math.exp(x[r * n + j] - max) / s;
  }
  return p;
}

const argmax = (a: Float32Array, r: number, n: number) => {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[r * n + j] > a[r * n + best]) best = j;
  return best;
};

/**
 * Σ over rows of Σ_j t_j·((max − z_j) + log Σ exp(z − max)), in f64, summed in the engine's documented
 * order (rows in runs of max(1, ⌊ROW_CHUNK / n⌋), the runs' sums in order); and the rows classified right.
 */
function crossEntropyRef(z: Float32Array, t: Float32Array, m: number, n: number) {
  const per = Math.max(1, Math.floor(ROW_CHUNK / n));
  let loss = 0;
  let right = 0;
  for (let first = 0; first < m; first += per) {
    let part = 0;
    for (let r = first; r < Math.min(m, first + per); r++) {
      let max = -Infinity;
      for (let j = 0; j < n; j++) max = Math.max(max, z[r * n + j]);
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(z[r * n + j] - max);
      for (let j = 0; j < n; j++) {
        if (t[r * n + j] !== 0) part += t[r * n + j] * (max - z[r * n + j] + Math.log(s));
      }
      if (argmax(z, r, n) === argmax(t, r, n)) right++;
    }
    loss += part;
  }
  return { loss, right };
}

const u32 = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
const asF32 = (x: Uint32Array) => new Float32Array(x.buffer);

describe('softmax and crossEntropy', () => {
  for (const [m, n] of SHAPES) {
    for (const huge of [false, true]) {
      it(`${m}×${n}${huge ? ', logits ±80' : ''}`, async () => {
        const z = logits(m, n, huge);
        const t = targets(m, n);
        const scale = Math.fround(1 / m);
        const [r] = await onBoth(
          engines,
          {
            z,
            t,
            p: new Float32Array(m * n),
            inPlace: z,
            z1: z,
            z2: z,
            dz: new Float32Array(m * n),
            loss: Float32Array.of(-1),
            total: Float32Array.of(1.5),
            correct: asF32(Uint32Array.of(5)),
          },
          (b) => [
            { op: 'softmax', x: b.z, y: b.p, m, n },
            { op: 'softmax', x: b.inPlace, y: b.inPlace, m, n },
            {
              op: 'crossEntropy',
              z: b.z1,
              t: b.t,
              m,
              n,
              loss: b.loss,
              lossScale: scale,
              correct: b.correct,
              dz: b.dz,
              gradScale: scale,
            },
            {
              op: 'crossEntropy',
              z: b.z2,
              t: b.t,
              m,
              n,
              loss: b.total,
              lossScale: scale,
              accumulate: true,
              correct: b.correct,
            },
          ],
          ['p', 'inPlace', 'z1', 'z2', 'dz', 'loss', 'total', 'correct'],
        );
        const want = softmaxRef(z, m, n);
        if (huge) {
          // Each row's maximum is ±80, its entries 0 or 160 below it: P is 1/(the count of maxima) or 0.
          expect(bits(r.p)).toEqual(bits(Float32Array.from(want)));
        } else {
          // exp to a few ulp, plus the rounding of x − max (≤ u·|x − max| relative); sum and division 1 ulp.
          const bound = (i: number) => want[i] * U * (8 + Math.abs(z[i] - Math.max(...rowOf(z, i, n))));
          expectClose(r.p, want, bound, 0, 'softmax');
        }
        for (const k of ['inPlace', 'z1', 'z2']) expect(bits(r[k]), `${k}: the softmax's bits`).toEqual(bits(r.p));
        // dz is (P − t)·scale from the P it stored, in f32.
        const dz = Float32Array.from(r.p, (p, i) => Math.fround(p - t[i]) * scale);
        expect(bits(r.dz)).toEqual(bits(dz));
        const ref = crossEntropyRef(z, t, m, n);
        expect(u32(r.correct)[0]).toBe(5 + 2 * ref.right);
        const loss = ref.loss * scale;
        if (huge) {
          // s is a count of ones (exact), max − z is 0 or 160: only log s is rounded, in f64.
          expect(r.loss[0]).toBe(Math.fround(loss));
          expect(r.total[0]).toBe(Math.fround(1.5 + loss));
          if (n > 1) expect(loss).toBeGreaterThan(50); // some rows do have their target at −80
        } else {
          // log s is off by at most s's relative error (the exps', a few ulp); the result is rounded once.
          expectClose(r.loss, [loss], () => 8 * U * scale * m, U, 'loss');
          expectClose(r.total, [1.5 + loss], () => 8 * U * scale * m, U, 'accumulated');
        }
      });
    }
  }
});

function rowOf(x: Float32Array, i: number, n: number): Float32Array {
  const r = Math.floor(i / n);
  return x.subarray(r * n, (r + 1) * n);
}

describe('softmaxGrad', () => {
  for (const [m, n] of SHAPES) {
    it(`${m}×${n}: out, out aliasing dy, out aliasing y`, async () => {
      const y = random(m * n, 50 + n, 0, 1);
      const dy = random(m * n, 51 + n);
      const [r] = await onBoth(
        engines,
        { y, dy, out: new Float32Array(m * n), dyOut: dy, y2: y, yOut: y, dy2: dy },
        (b) => [
          { op: 'softmaxGrad', y: b.y, dy: b.dy, out: b.out, m, n },
          { op: 'softmaxGrad', y: b.y, dy: b.dyOut, out: b.dyOut, m, n },
          { op: 'softmaxGrad', y: b.yOut, dy: b.dy2, out: b.yOut, m, n },
        ],
        ['out', 'dyOut', 'yOut'],
      );
      const want = new Float64Array(m * n);
      const mag = new Float64Array(m);
      for (let i = 0; i < m; i++) {
        let dot = 0;
        for (let j = 0; j < n; j++) {
          dot += dy[i * n + j] * y[i * n + j];
          mag[i] += Math.abs(dy[i * n + j] * y[i * n + j]);
        }
        for (let j = 0; j < n; j++) want[i * n + j] = y[i * n + j] * (dy[i * n + j] - dot);
      }
      // The dot rounded once to f32, then the f32 subtraction and product: y·u·(|dot| + |dy − dot|) + u·|out|.
      const bound = (e: number) => y[e] * U * (mag[Math.floor(e / n)] + Math.abs(dy[e]) * 2);
      expectClose(r.out, want, bound, 2 * U, 'softmaxGrad');
      expect(bits(r.dyOut)).toEqual(bits(r.out));
      expect(bits(r.yOut)).toEqual(bits(r.out));
    });
  }
});
