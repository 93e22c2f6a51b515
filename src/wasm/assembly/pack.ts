// Packing for gemm.ts: copies of opA(A) and opB(B) laid out as the micro-kernel reads them, A in MR-row
// panels [k][MR], B in NR-column panels [k][NR], zero-padded past the matrix edge. A transpose only changes
// how a panel is read: contiguous copies, or 4×4 transposes in registers.
import { MR, NR } from '../layout';

if (MR !== 5 || NR !== 8) ERROR('pack.ts is written for MR = 5, NR = 8');

/**
 * Packs rows [r0, r0 + MR) of opA(A) (m rows, k columns) into `dst` as [k][MR], rows past m as zeros.
 * A is m×k with row length lda, or with transA k×m, read in place.
 */
export function packA(dst: usize, a: usize, lda: usize, transA: bool, r0: i32, m: i32, k: i32): void {
  const rows = min(MR, m - r0);
  if (transA) {
    // Row kk of the stored A holds opA(A)[r0.., kk] contiguously: a straight copy per k.
    let src = a + ((<usize>r0) << 2);
    const step = lda << 2;
    if (rows === MR) {
      for (let kk = 0; kk < k; kk++) {
        v128.store(dst, v128.load(src));
        store<f32>(dst, load<f32>(src, 16), 16);
        src += step;
        dst += MR << 2;
      }
    } else {
      for (let kk = 0; kk < k; kk++) {
        for (let r = 0; r < MR; r++)
          store<f32>(dst + ((<usize>r) << 2), r < rows ? load<f32>(src + ((<usize>r) << 2)) : 0);
        src += step;
        dst += MR << 2;
      }
    }
    return;
  }
  // Rows of A are contiguous along k: read 4 k-steps of rows 0–3 and transpose them in registers.
  const row0 = a + ((<usize>r0 * lda) << 2);
  const ld = lda << 2;
  let kk = 0;
  if (rows === MR) {
    for (; kk + 4 <= k; kk += 4) {
      const p = row0 + ((<usize>kk) << 2);
      const x0 = v128.load(p);
      const x1 = v128.load(p + ld);
      const x2 = v128.load(p + 2 * ld);
      const x3 = v128.load(p + 3 * ld);
      const x4 = v128.load(p + 4 * ld);
      const t0 = f32x4.shuffle(x0, x1, 0, 4, 1, 5);
      const t1 = f32x4.shuffle(x0, x1, 2, 6, 3, 7);
      const t2 = f32x4.shuffle(x2, x3, 0, 4, 1, 5);
      const t3 = f32x4.shuffle(x2, x3, 2, 6, 3, 7);
      v128.store(dst, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
      v128.store32_lane(dst, x4, 0, 16);
      v128.store(dst, f32x4.shuffle(t0, t2, 2, 3, 6, 7), 20);
      v128.store32_lane(dst, x4, 1, 36);
      v128.store(dst, f32x4.shuffle(t1, t3, 0, 1, 4, 5), 40);
      v128.store32_lane(dst, x4, 2, 56);
      v128.store(dst, f32x4.shuffle(t1, t3, 2, 3, 6, 7), 60);
      v128.store32_lane(dst, x4, 3, 76);
      dst += (4 * MR) << 2;
    }
  }
  for (; kk < k; kk++) {
    const p = row0 + ((<usize>kk) << 2);
    for (let r = 0; r < MR; r++) store<f32>(dst + ((<usize>r) << 2), r < rows ? load<f32>(p + <usize>r * ld) : 0);
    dst += MR << 2;
  }
}

/**
 * Packs columns [c0, c0 + NR) of opB(B) (k rows, n columns) into `dst` as [k][NR], columns past n as
 * zeros. B is k×n with row length ldb, or with transB n×k, read in place.
 */
function packB(dst: usize, b: usize, ldb: usize, transB: bool, c0: i32, n: i32, k: i32): void {
  const cols = min(NR, n - c0);
  if (!transB) {
    let src = b + ((<usize>c0) << 2);
    const step = ldb << 2;
    for (let kk = 0; kk < k; kk++) {
      if (cols === NR) {
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
      } else {
        for (let c = 0; c < NR; c++)
          store<f32>(dst + ((<usize>c) << 2), c < cols ? load<f32>(src + ((<usize>c) << 2)) : 0);
      }
      src += step;
      dst += NR << 2;
    }
    return;
  }
  // Rows of the stored B are columns of opB(B), contiguous along k: two 4×4 transposes per 4 k-steps.
  const col0 = b + ((<usize>c0 * ldb) << 2);
  const ld = ldb << 2;
  let kk = 0;
  if (cols === NR) {
    for (; kk + 4 <= k; kk += 4) {
      for (let h = 0; h < 2; h++) {
        const p = col0 + ((<usize>kk) << 2) + <usize>(4 * h) * ld;
        const x0 = v128.load(p);
        const x1 = v128.load(p + ld);
        const x2 = v128.load(p + 2 * ld);
        const x3 = v128.load(p + 3 * ld);
        const t0 = f32x4.shuffle(x0, x1, 0, 4, 1, 5);
        const t1 = f32x4.shuffle(x0, x1, 2, 6, 3, 7);
        const t2 = f32x4.shuffle(x2, x3, 0, 4, 1, 5);
        const t3 = f32x4.shuffle(x2, x3, 2, 6, 3, 7);
        const d = dst + ((<usize>h) << 4);
        v128.store(d, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
        v128.store(d, f32x4.shuffle(t0, t2, 2, 3, 6, 7), NR << 2);
        v128.store(d, f32x4.shuffle(t1, t3, 0, 1, 4, 5), NR << 3);
        v128.store(d, f32x4.shuffle(t1, t3, 2, 3, 6, 7), (NR << 3) + (NR << 2));
      }
      dst += (4 * NR) << 2;
    }
  }
  for (; kk < k; kk++) {
    const p = col0 + ((<usize>kk) << 2);
    for (let c = 0; c < NR; c++) store<f32>(dst + ((<usize>c) << 2), c < cols ? load<f32>(p + <usize>c * ld) : 0);
    dst += NR << 2;
  }
}

/** B panels per packing task: PACK_GROUP·NR·4 = 256 contiguous bytes of each row of an untransposed B. */
export const PACK_GROUP = 8;

/**
 * Packs `count` B panels from panel `first` of the column chunk at j0 into their places from `packed`.
 * An untransposed B is read a row at a time across the group: one panel alone reads 32 bytes per row of
 * B, rows ldb·4 bytes apart, which for rows of 4 KiB lands every read in the same few cache sets. The
 * packed result is the same as panel by panel.
 */
export function packBGroup(
  packed: usize,
  panelB: usize,
  b: usize,
  ldb: usize,
  transB: bool,
  j0: i32,
  first: i32,
  count: i32,
  n: i32,
  k: i32,
): void {
  const full = transB ? 0 : min(count, (n - j0 - first * NR) / NR);
  if (full > 0) {
    let src = b + ((<usize>(j0 + first * NR)) << 2);
    let dst = packed + <usize>first * panelB;
    for (let kk = 0; kk < k; kk++) {
      for (let j = 0; j < full; j++) {
        const s = src + ((<usize>j) << 5);
        const d = dst + <usize>j * panelB;
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
      }
      src += ldb << 2;
      dst += NR << 2;
    }
  }
  for (let j = first + full; j < first + count; j++)
    packB(packed + <usize>j * panelB, b, ldb, transB, j0 + j * NR, n, k);
}
