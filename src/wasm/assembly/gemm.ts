// GEMM, BLIS-shaped: C = epilogue(opA(A) · opB(B)) with op = identity or transpose.
//
// Both operands are first packed into panels the micro-kernel reads front to back: A into MR-row panels
// laid out [k][MR], B into NR-column panels laid out [k][NR]. After packing, A·B, Aᵀ·B and A·Bᵀ are the
// same computation; a transpose only changes how the packing reads (contiguous copies or 4×4 register
// transposes). Threads share the packing by panels, meet at a barrier, then take MC×NC output tiles from
// a counter. A tile is walked KC steps of k at a time (partial sums kept in the thread's scratch), with
// the micro-kernel computing one MR×NR block in registers. Every output sums k = 0, 1, …, K−1 in order
// whatever the tile, chunk or thread count, so results are bitwise identical for any number of threads.
// The epilogue runs once per output, after the last K block.
import {
  EPI_ADD,
  EPI_FORWARD,
  EPI_GRAD,
  FLAG_ACT_SHIFT,
  FLAG_EPI_SHIFT,
  FLAG_TRANS_A,
  FLAG_TRANS_B,
  GEMM_A,
  GEMM_AUX,
  GEMM_B,
  GEMM_BIAS,
  GEMM_C,
  GEMM_FLAGS,
  GEMM_K,
  GEMM_LDA,
  GEMM_LDB,
  GEMM_HYPER,
  GEMM_LDC,
  GEMM_M,
  GEMM_MC,
  GEMM_MCHUNK,
  GEMM_N,
  GEMM_NC,
  GEMM_NCHUNK,
  HYPER_LR,
  HYPER_WD,
  KC,
  MC,
  MR,
  NC,
  NR,
} from '../layout';
import { activate1, activate4, activateGrad1, activateGrad4, madd } from './math';
import { PACK_GROUP, packA, packBGroup } from './pack';
import { barrier, nextTask } from './sync';

// The micro-kernel below and the packing (pack.ts) are written out for 5×8: 10 accumulators + 2 B vectors
// + one broadcast A value fit V8's 15 allocatable xmm registers (6×8 spills without FMA).
if (MR !== 5 || NR !== 8) ERROR('gemm.ts is written for MR = 5, NR = 8');

/**
 * The MR×NR micro-kernel: out = acc + Σ_{k<kc} a[k] ⊗ b[k], a an [kc][MR] panel, b a [kc][NR] panel;
 * acc = 0 starts from zero. acc/out rows are `ldacc`/`ldout` bytes apart (they may be the same block).
 */
function ukernel(kc: i32, a: usize, b: usize, acc: usize, ldacc: usize, out: usize, ldout: usize): void {
  let c00 = f32x4.splat(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  let c40 = c00;
  let c41 = c00;
  if (acc) {
    c00 = v128.load(acc);
    c01 = v128.load(acc, 16);
    c10 = v128.load(acc + ldacc);
    c11 = v128.load(acc + ldacc, 16);
    c20 = v128.load(acc + 2 * ldacc);
    c21 = v128.load(acc + 2 * ldacc, 16);
    c30 = v128.load(acc + 3 * ldacc);
    c31 = v128.load(acc + 3 * ldacc, 16);
    c40 = v128.load(acc + 4 * ldacc);
    c41 = v128.load(acc + 4 * ldacc, 16);
  }
  for (let k = kc; k > 0; k--) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    x = v128.load32_splat(a, 16);
    c40 = madd(x, b0, c40);
    c41 = madd(x, b1, c41);
    a += MR << 2;
    b += NR << 2;
  }
  v128.store(out, c00);
  v128.store(out, c01, 16);
  v128.store(out + ldout, c10);
  v128.store(out + ldout, c11, 16);
  v128.store(out + 2 * ldout, c20);
  v128.store(out + 2 * ldout, c21, 16);
  v128.store(out + 3 * ldout, c30);
  v128.store(out + 3 * ldout, c31, 16);
  v128.store(out + 4 * ldout, c40);
  v128.store(out + 4 * ldout, c41, 16);
}

/**
 * Stores an MR×NR block `t` (rows NR floats apart) into C at `c` (rows ldc bytes apart), keeping `rows`
 * rows and `cols` columns, through the epilogue: forward C = f(t + bias), grad C = t ⊙ f'(Y) with Y at
 * `aux` (rows ldc bytes apart), sgd C = C − lr·(t + wd·C) with lr, wd from the hyper block at `h`,
 * add C = C + t. lr and wd are loaded where they are used: an f32 local in gemm() would live across its
 * barrier (see sync.ts).
 */
function epilogue(
  t: usize,
  c: usize,
  ldc: usize,
  rows: i32,
  cols: i32,
  epi: i32,
  act: i32,
  bias: usize,
  aux: usize,
  h: usize,
): void {
  for (let r = 0; r < rows; r++) {
    if (cols === NR) {
      for (let o: usize = 0; o < 32; o += 16) {
        const p = v128.load(t + o);
        let v: v128;
        if (epi === EPI_FORWARD) v = activate4(act, bias ? f32x4.add(p, v128.load(bias + o)) : p);
        else if (epi === EPI_GRAD) v = f32x4.mul(p, activateGrad4(act, v128.load(aux + o)));
        else if (epi === EPI_ADD) v = f32x4.add(v128.load(c + o), p);
        else {
          const w = v128.load(c + o);
          const wd = v128.load32_splat(h, HYPER_WD << 2);
          v = f32x4.sub(w, f32x4.mul(v128.load32_splat(h, HYPER_LR << 2), f32x4.add(p, f32x4.mul(wd, w))));
        }
        v128.store(c + o, v);
      }
    } else {
      for (let j = 0; j < cols; j++) {
        const o = (<usize>j) << 2;
        const p = load<f32>(t + o);
        let v: f32;
        if (epi === EPI_FORWARD) v = activate1(act, bias ? p + load<f32>(bias + o) : p);
        else if (epi === EPI_GRAD) v = p * activateGrad1(act, load<f32>(aux + o));
        else if (epi === EPI_ADD) v = load<f32>(c + o) + p;
        else {
          const w = load<f32>(c + o);
          v = w - load<f32>(h, HYPER_LR << 2) * (p + load<f32>(h, HYPER_WD << 2) * w);
        }
        store<f32>(c + o, v);
      }
    }
    t += NR << 2;
    c += ldc;
    aux += ldc;
  }
}

/** Runs one gemm op (fields GEMM_* at `op`) as thread `tid` of `threads`. */
export function gemm(op: usize, ctrl: usize, _tid: i32, threads: i32, shared: usize, mine: usize): void {
  const a = <usize>load<u32>(op + (GEMM_A << 2));
  const b = <usize>load<u32>(op + (GEMM_B << 2));
  const c = <usize>load<u32>(op + (GEMM_C << 2));
  const m = load<i32>(op + (GEMM_M << 2));
  const n = load<i32>(op + (GEMM_N << 2));
  const k = load<i32>(op + (GEMM_K << 2));
  const lda = <usize>load<u32>(op + (GEMM_LDA << 2));
  const ldb = <usize>load<u32>(op + (GEMM_LDB << 2));
  const ldc = (<usize>load<u32>(op + (GEMM_LDC << 2))) << 2;
  const flags = load<i32>(op + (GEMM_FLAGS << 2));
  const bias = <usize>load<u32>(op + (GEMM_BIAS << 2));
  const aux = <usize>load<u32>(op + (GEMM_AUX << 2));
  const hyper = <usize>load<u32>(op + (GEMM_HYPER << 2));
  const mChunk = load<i32>(op + (GEMM_MCHUNK << 2));
  const nChunk = load<i32>(op + (GEMM_NCHUNK << 2));
  const mc = load<i32>(op + (GEMM_MC << 2));
  const nc = load<i32>(op + (GEMM_NC << 2));
  const transA = (flags & FLAG_TRANS_A) !== 0;
  const transB = (flags & FLAG_TRANS_B) !== 0;
  const epi = (flags >> FLAG_EPI_SHIFT) & 3;
  const act = (flags >> FLAG_ACT_SHIFT) & 3;

  const panelA = (<usize>(MR * k)) << 2;
  const panelB = (<usize>(NR * k)) << 2;
  const packedA = shared;
  const packedB = shared + ((<usize>((mChunk + MR - 1) / MR) * panelA + 63) & ~63);
  const partial = mine; // MC×NC partial sums, rows NC floats apart
  const tile = mine + ((<usize>(MC * NC)) << 2); // one MR×NR output block

  for (let j0 = 0; j0 < n; j0 += nChunk) {
    const nn = min(nChunk, n - j0);
    const panelsB = (nn + NR - 1) / NR;
    for (let i0 = 0; i0 < m; i0 += mChunk) {
      const mm = min(mChunk, m - i0);
      const panelsA = (mm + MR - 1) / MR;
      // Phase 1: pack this chunk of A, and of B when starting a new column chunk.
      // B's panels go in groups of PACK_GROUP (see packBGroup).
      const packTasks = panelsA + (i0 === 0 ? (panelsB + PACK_GROUP - 1) / PACK_GROUP : 0);
      for (let t = nextTask(ctrl); t < packTasks; t = nextTask(ctrl)) {
        if (t < panelsA) packA(packedA + <usize>t * panelA, a, lda, transA, i0 + t * MR, m, k);
        else
          packBGroup(
            packedB,
            panelB,
            b,
            ldb,
            transB,
            j0,
            (t - panelsA) * PACK_GROUP,
            min(PACK_GROUP, panelsB - (t - panelsA) * PACK_GROUP),
            n,
            k,
          );
      }
      barrier(ctrl, threads);
      // Phase 2: output tiles.
      const tilesN = (nn + nc - 1) / nc;
      const tiles = ((mm + mc - 1) / mc) * tilesN;
      for (let t = nextTask(ctrl); t < tiles; t = nextTask(ctrl)) {
        const ti = (t / tilesN) * mc;
        const tj = (t % tilesN) * nc;
        const mt = min(mc, mm - ti);
        const nt = min(nc, nn - tj);
        for (let p0 = 0; p0 < k; p0 += KC) {
          const kc = min(KC, k - p0);
          const first = p0 === 0;
          const last = p0 + kc >= k;
          for (let jr = 0; jr < nt; jr += NR) {
            const pb = packedB + <usize>((tj + jr) / NR) * panelB + ((<usize>(p0 * NR)) << 2);
            for (let ir = 0; ir < mt; ir += MR) {
              const pa = packedA + <usize>((ti + ir) / MR) * panelA + ((<usize>(p0 * MR)) << 2);
              const acc = partial + ((<usize>(ir * NC + jr)) << 2);
              if (!last) {
                ukernel(kc, pa, pb, first ? 0 : acc, NC << 2, acc, NC << 2);
                continue;
              }
              ukernel(kc, pa, pb, first ? 0 : acc, NC << 2, tile, NR << 2);
              const row = i0 + ti + ir;
              const col = j0 + tj + jr;
              const at = <usize>row * ldc + ((<usize>col) << 2);
              epilogue(
                tile,
                c + at,
                ldc,
                min(MR, mt - ir),
                min(NR, nt - jr),
                epi,
                act,
                bias ? bias + ((<usize>col) << 2) : 0,
                aux ? aux + at : 0,
                hyper,
              );
            }
          }
        }
      }
      // Before the next chunk is packed over this one. The last chunk needs none: the interpreter
      // meets after every op.
      if (j0 + nChunk < n || i0 + mChunk < m) barrier(ctrl, threads);
    }
  }
}
