// matmul_tiled.wgsl — the same product and epilogues as matmul.wgsl, for GPUs whose workgroup memory is
// fast (every hardware GPU). Entry points main_tiled and, for split-K, main_split_sum; built from
// activation_fns.wgsl, matmul.wgsl (its constants, bindings a, b, params and epilogue4) and this file.
//
// Formula: as in matmul.wgsl, with the same EPILOGUE choices. With SPLIT_K = S > 1, layer z of the
//   workgroup grid computes the partial product over k in [z·KS, min(K, (z+1)·KS)), KS = ceil(K / S)
//   rounded up to a multiple of KT, into slice z of a scratch buffer, with no epilogue; main_split_sum
//   then adds the S slices in the order z = 0 .. S−1 (every run the same: deterministic) and applies the
//   epilogue once.
// Bindings (group 0): 0 a, 1 b, 2 aux, 3 c, 4 params as in matmul.wgsl, aux and c read here as vec4s
//   (auxv, cv). For SPLIT_K > 1, main_tiled's c is the scratch (S slices of M×N) and main_split_sum reads
//   the scratch as binding 0 and does not use binding 1. The host runs this kernel only where the stored
//   rows of A and B and the rows of C are a multiple of 4 long (whole, aligned vec4s everywhere).
// Dispatch: main_tiled (ceil(N / BN), ceil(M / BM), SPLIT_K) with BM = WG_Y·TM, BN = WG_X·TN;
//   main_split_sum one invocation per vec4 of C, 64 to a workgroup, over (min(g, 65535), ceil(g / 65535), 1)
//   workgroups for g = ceil(M·N / 256).
// CPU twin: matmulInto() in src/cpu/ops.ts.
//
// The design of the published fast WebGPU matmuls (tfjs / ONNX Runtime Web's matmul_packed, gpu.cpp):
//   - A workgroup of WG_X × WG_Y invocations computes a BM×BN block of C, each invocation TM×TN of it
//     (TM, TN ∈ {4, 8}) in 4×4 register tiles acc00 .. acc11: named values, only as many as TM and TN
//     use (the others are dead code once the constants are known), never a dynamically indexed array.
//   - K is walked in slabs of KT: KT×BM of opA(A) and KT×BN of opB(B) staged in workgroup memory k-major
//     (row k of the A slab holds opA(A)[m0 .. m0+BM, k0 + k] as vec4s along m) whatever the form, so the
//     multiply reads every form the same way: per k, TM/4 + TN/4 vec4 loads feed TM·TN multiply-adds.
//   - Strided ownership instead of padding against bank conflicts: invocation (x, y) owns the rows
//     4y + 4·WG_Y·i .. +3 and the columns 4x + 4·WG_X·j .. +3, so at each k neighbouring invocations read
//     neighbouring vec4s of a slab row (or the same one, a broadcast), and store neighbouring vec4s of C.
//   - Slabs are filled in 4×4 units: 4 vec4 loads of stored rows, transposed in registers when those rows
//     run along k (A in A·B and A·Bᵀ, B in A·Bᵀ), then 4 whole-vec4 writes to 4 slab rows. Units are
//     numbered along the slab row first, so neighbouring invocations write neighbouring vec4s. No lane
//     writes a single component of a vec4 in workgroup memory: some backends turn that into a
//     read-modify-write of the whole vec4, which would race with the neighbours.
//   - Double buffering with prefetch: two slab buffers; the loads of slab s+1 are issued into registers
//     before the multiply of slab s and written to the other buffer after it: one barrier per slab.
//   - Bounds-free interior: a workgroup whose block lies inside C, with K a multiple of KT (K_FULL), loads
//     its slabs without clamps or masks; only edge workgroups clamp rows and columns (they feed outputs
//     that are never stored) and read 0 for k ≥ K. The choice is one branch per slab load that every
//     invocation of the workgroup takes the same way; the multiply is one copy (a second would double
//     the code, and the compile time, for no gain in the loop that matters).
//   - vec4 stores of C through the shared epilogue (epilogue4).

override KT: u32 = 8u;  // slab depth, a multiple of 4
override SPLIT_K: u32 = 1u;  // K slices (layers z of the grid); 1: no split
override K_FULL: bool = false;  // K % KT == 0, so every slab is whole

@group(0) @binding(2) var<storage, read> auxv: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> cv: array<vec4<f32>>;

// Two slab buffers each: row k of buffer s of the A slab is wgA[(s·KT + k)·BM/4 ..][..BM/4].
var<workgroup> wgA: array<vec4<f32>, 2u * KT * WG_Y * TM / 4u>;
var<workgroup> wgB: array<vec4<f32>, 2u * KT * WG_X * TN / 4u>;

// This invocation's 4×4 units of the next slab, held between their loads and their writes: column j is
// slab row 4·kq + j at vec4 q (unitA, unitB below). The host keeps KT·BM/16 and KT·BN/16 at or below the
// workgroup's invocation count, so each invocation has at most one unit of each.
var<private> nextA: mat4x4<f32>;
var<private> nextB: mat4x4<f32>;

// Row chunk i, column chunk j: accIJ[r] = P[row 4·(y + WG_Y·i) + r of the block, columns 4·(x + WG_X·j) ..].
var<private> acc00: mat4x4<f32>;
var<private> acc01: mat4x4<f32>;
var<private> acc10: mat4x4<f32>;
var<private> acc11: mat4x4<f32>;

fn operandVec4(isA: bool, e: u32) -> vec4<f32> {
  if (isA) { return a[e]; }
  return b[e];
}

// Unit u of one operand's slab at k0: vec4 q = u % (blk/4) of slab rows 4·kq .. 4·kq+3, kq = u / (blk/4),
// where blk is BM (A) or BN (B) and o the block's first row (A) or column (B) of C. `along` is the
// operand's extent along the slab row (M or N). Column j of the result is slab row 4·kq + j.
// `edge` (the same for the whole workgroup, so the branch never diverges) takes the clamped loads.
fn loadUnit(isA: bool, u: u32, o: u32, k0: u32, along: u32, edge: bool) -> mat4x4<f32> {
  let blk4 = select(WG_X * TN, WG_Y * TM, isA) / 4u;
  let q = u % blk4;
  let k = k0 + 4u * (u / blk4);
  // Whether the stored rows run along the slab row (Aᵀ stored K×M; B stored K×N) or along k.
  let direct = (isA && TRANSPOSE_A) || (!isA && !TRANSPOSE_B);
  if (edge) { return edgeUnit(isA, direct, o + 4u * q, k, along); }
  var t: mat4x4<f32>;
  if (direct) {
    for (var j = 0u; j < 4u; j++) { t[j] = operandVec4(isA, ((k + j) * along + o + 4u * q) >> 2u); }
    return t;
  }
  for (var j = 0u; j < 4u; j++) { t[j] = operandVec4(isA, ((o + 4u * q + j) * params.K + k) >> 2u); }
  return transpose(t);
}

// loadUnit at the edges: rows and columns past the operand's are clamped (they feed outputs that are
// never stored) and values of k ≥ K read 0. `at` is the unit's first index along the slab row.
fn edgeUnit(isA: bool, direct: bool, at: u32, k: u32, along: u32) -> mat4x4<f32> {
  let K = params.K;
  var t: mat4x4<f32>;
  if (direct) {
    let col = min(at, along - 4u);
    for (var j = 0u; j < 4u; j++) {
      let v = operandVec4(isA, (min(k + j, K - 1u) * along + col) >> 2u);
      t[j] = select(vec4<f32>(0.0), v, k + j < K);
    }
    return t;
  }
  // K % 4 == 0 here (the stored rows are K long and whole vec4s): the 4 values of k stay together.
  let kc = min(k, K - 4u);
  for (var j = 0u; j < 4u; j++) {
    let v = operandVec4(isA, (min(at + j, along - 1u) * K + kc) >> 2u);
    t[j] = select(vec4<f32>(0.0), v, k < K);
  }
  return transpose(t);
}

fn unitsA() -> u32 { return KT * WG_Y * TM / 16u; }
fn unitsB() -> u32 { return KT * WG_X * TN / 16u; }

// Issues this invocation's loads of the slab at k0 into nextA, nextB.
fn prefetch(li: u32, m0: u32, n0: u32, k0: u32, edge: bool) {
  if (li < unitsA()) { nextA = loadUnit(true, li, m0, k0, params.M, edge); }
  if (li < unitsB()) { nextB = loadUnit(false, li, n0, k0, params.N, edge); }
}

// Writes nextA, nextB into slab buffer s.
fn stash(li: u32, s: u32) {
  if (li < unitsA()) {
    let blk4 = WG_Y * TM / 4u;
    let base = (s * KT + 4u * (li / blk4)) * blk4 + li % blk4;
    for (var j = 0u; j < 4u; j++) { wgA[base + j * blk4] = nextA[j]; }
  }
  if (li < unitsB()) {
    let blk4 = WG_X * TN / 4u;
    let base = (s * KT + 4u * (li / blk4)) * blk4 + li % blk4;
    for (var j = 0u; j < 4u; j++) { wgB[base + j * blk4] = nextB[j]; }
  }
}

// acc[r] += a[r] · b for r < 4: one k of a 4×4 tile, as multiply-adds.
fn mad(acc: ptr<private, mat4x4<f32>>, av: vec4<f32>, bv: vec4<f32>) {
  (*acc)[0] = fma(vec4<f32>(av.x), bv, (*acc)[0]);
  (*acc)[1] = fma(vec4<f32>(av.y), bv, (*acc)[1]);
  (*acc)[2] = fma(vec4<f32>(av.z), bv, (*acc)[2]);
  (*acc)[3] = fma(vec4<f32>(av.w), bv, (*acc)[3]);
}

// Every k of slab buffer s.
fn multiplySlab(s: u32, x: u32, y: u32) {
  let bm4 = WG_Y * TM / 4u;
  let bn4 = WG_X * TN / 4u;
  for (var k = 0u; k < KT; k++) {
    let ra = (s * KT + k) * bm4 + y;
    let rb = (s * KT + k) * bn4 + x;
    let a0 = wgA[ra];
    let b0 = wgB[rb];
    mad(&acc00, a0, b0);
    if (TN > 4u) { mad(&acc01, a0, wgB[rb + WG_X]); }
    if (TM > 4u) {
      let a1 = wgA[ra + WG_Y];
      mad(&acc10, a1, b0);
      if (TN > 4u) { mad(&acc11, a1, wgB[rb + WG_X]); }
    }
  }
}

// The product over k in [kBegin, kEnd) for the block at (m0, n0), slab by slab.
fn multiplyRange(li: u32, x: u32, y: u32, m0: u32, n0: u32, kBegin: u32, kEnd: u32, edge: bool) {
  prefetch(li, m0, n0, kBegin, edge);
  stash(li, 0u);
  workgroupBarrier();
  var s = 0u;
  for (var k0 = kBegin; k0 < kEnd; k0 += KT) {
    let more = k0 + KT < kEnd;
    if (more) { prefetch(li, m0, n0, k0 + KT, edge); }
    multiplySlab(s, x, y);
    if (more) { stash(li, 1u - s); }
    workgroupBarrier();
    s = 1u - s;
  }
}

// C[row, col .. col+3] from p = P there through the epilogue; nothing outside C is stored. N % 4 == 0.
fn storeOut(p: vec4<f32>, row: u32, col: u32) {
  if (row >= params.M || col >= params.N) { return; }
  let e = (row * params.N + col) >> 2u;
  var prior = vec4<f32>(0.0);
  if (EPILOGUE == EPI_GRAD) { prior = auxv[e]; }
  if (EPILOGUE == EPI_SGD || EPILOGUE == EPI_ADD) { prior = cv[e]; }
  var bias4 = vec4<f32>(0.0);
  if (EPILOGUE == EPI_FORWARD && HAS_BIAS) { bias4 = auxv[col >> 2u]; }
  cv[e] = epilogue4(p, prior, bias4);
}

// Rows row .. row+3 of the tile t at column col: into C, or raw into split slice z.
fn storeTile4(t: mat4x4<f32>, row: u32, col: u32, z: u32) {
  for (var r = 0u; r < 4u; r++) {
    if (SPLIT_K > 1u) {
      if (row + r < params.M && col < params.N) { cv[((z * params.M + row + r) * params.N + col) >> 2u] = t[r]; }
    } else {
      storeOut(t[r], row + r, col);
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wid.y * WG_Y * TM;
  let n0 = wid.x * WG_X * TN;
  // This layer's K slice (all of K without split).
  let depth = ((K + SPLIT_K - 1u) / SPLIT_K + KT - 1u) / KT * KT;
  let kBegin = wid.z * depth;
  let kEnd = min(K, kBegin + depth);
  if (kBegin < kEnd) {
    let edge = !(K_FULL && m0 + WG_Y * TM <= M && n0 + WG_X * TN <= N);
    multiplyRange(li, lid.x, lid.y, m0, n0, kBegin, kEnd, edge);
  }
  let row = m0 + 4u * lid.y;
  let col = n0 + 4u * lid.x;
  storeTile4(acc00, row, col, wid.z);
  if (TN > 4u) { storeTile4(acc01, row, col + 4u * WG_X, wid.z); }
  if (TM > 4u) {
    storeTile4(acc10, row + 4u * WG_Y, col, wid.z);
    if (TN > 4u) { storeTile4(acc11, row + 4u * WG_Y, col + 4u * WG_X, wid.z); }
  }
}

@compute @workgroup_size(64, 1, 1)
fn main_split_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * 64u;
  let quads = params.M * params.N / 4u;
  if (g >= quads) { return; }
  var p = a[g];
  for (var z = 1u; z < SPLIT_K; z++) { p += a[z * quads + g]; }
  let col = (4u * g) % params.N;
  storeOut(p, (4u * g) / params.N, col);
}
