// matmul.wgsl — C = op(A) · op(B) [+ bias] then f, with op = identity or transpose; or, in training, the
// product fed straight into the next step of backprop (EPILOGUE).
//
// Formula: P[m, n] = Σ_k opA(A)[m, k] · opB(B)[k, n], M×K · K×N → M×N, all row-major f32, and then
//   EPI_FORWARD (0): C[m, n] = f(P[m, n] + bias[n])            (a layer's forward pass; f = ACTIVATION)
//   EPI_GRAD (1):    C[m, n] = P[m, n] · f'(Y[m, n])           (dZ_prev = dZ · Wᵀ ⊙ f'(A_prev) in one pass)
//   EPI_SGD (2):     C[m, n] = C[m, n] − lr · (P[m, n] + wd · C[m, n])   (the SGD step fused into dW = A_prevᵀ · dZ,
//                    with decoupled weight decay wd)
//   EPI_ADD (3):     C[m, n] = C[m, n] + P[m, n]               (dW summed over the micro-batches of a batch)
//   TRANSPOSE_A: A is stored K×M and read in place as Aᵀ (dW = A_prevᵀ · dZ needs it).
//   TRANSPOSE_B: B is stored N×K and read in place as Bᵀ (dA_prev = dZ · Wᵀ needs it).
// Bindings (group 0): 0 a: A (read), 1 b: B (read), 2 aux (read): the 1×N bias for EPI_FORWARD (a dummy
//   when HAS_BIAS is false), the M×N layer output Y for EPI_GRAD, a dummy for EPI_SGD and EPI_ADD; 3 c: C
//   (read_write), 4 params: uniform {M, N, K, lr, wd} (lr and wd only for EPI_SGD).
// Dispatch: (ceil(N / (TN·WG_X)), ceil(M / (TM·WG_Y)), 1). CPU twin: matmulInto() in src/cpu/ops.ts.
//
// Each invocation computes a TM×TN block of C (TM, TN ∈ {4, 8, 16, 32}) held in registers as 4×4 tiles,
// stepping K four at a time. A 4×4 slice of A or B is always four vec4 loads of stored rows, whatever the
// form; the transposed forms transpose the slice in registers, which costs nothing.
//   Why big blocks: on the SwiftShader adapter every load a lane makes from a buffer is an emulated
//   per-lane gather (tens of instructions per f32), while arithmetic is cheap, so what counts is how many
//   multiply-adds each loaded value feeds: TN for a value of A, TM for one of B.
//   Why the unrolled-by-hand code below: WGSL cannot unroll, and SwiftShader keeps the tiles in registers
//   only when every index into them is a literal.
// Edges without branches: rows and columns past the edge of A or B are clamped (they only feed outputs
//   that are never stored), entries past K read 0, and stores outside C are skipped; so any M, N, K works
//   and the hot loop has no divergent branches (SwiftShader would run both sides of one).
//   ALIGNED_A / ALIGNED_B: the stored row length is a multiple of 4, so a 4-wide load is one vec4 load;
//   otherwise it is four scalar loads (the buffers are padded to 16 bytes, so nothing reads past the end).
//   K_ALIGNED: K is a multiple of 4, so the masking along K (a select per load) is left out; the
//   dispatch's K is fixed, so the pipeline can know.
// For GPUs with fast workgroup memory, matmul_tiled.wgsl computes the same product from slabs staged
//   there; it shares this file's constants and epilogue (epilogue4).
// Needs activation_fns.wgsl.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override TM: u32 = 4u;
override TN: u32 = 4u;
override TRANSPOSE_A: bool = false;
override TRANSPOSE_B: bool = false;
override ALIGNED_A: bool = false;
override ALIGNED_B: bool = false;
override HAS_BIAS: bool = false;
override ACTIVATION: u32 = 0u;
override K_ALIGNED: bool = false;  // K % 4 == 0: no 4-step of k reaches past K, so nothing needs masking
override EPILOGUE: u32 = 0u;
// matmul_sg.wgsl only: the kernel computed Cᵀ = opB(B)ᵀ · opA(A)ᵀ, with M and N swapped in params, and
// stores each tile transposed back into C.
override TRANSPOSE_C: bool = false;

const EPI_FORWARD: u32 = 0u;
const EPI_GRAD: u32 = 1u;
const EPI_SGD: u32 = 2u;
const EPI_ADD: u32 = 3u;

struct Params { M: u32, N: u32, K: u32, lr: f32, wd: f32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> aux: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// This step's tiles: column i of ta[r] is opA(A)[m + 4r + i, k .. k+3]; column kk of tb[t] is
// opB(B)[k + kk, n + 4t .. +3]. Column i of accR[t] is C[m + 4R + i, n + 4t .. +3].
var<private> ta: array<mat4x4<f32>, 8>;
var<private> tb: array<mat4x4<f32>, 8>;
var<private> acc0: array<mat4x4<f32>, 8>;
var<private> acc1: array<mat4x4<f32>, 8>;
var<private> acc2: array<mat4x4<f32>, 8>;
var<private> acc3: array<mat4x4<f32>, 8>;
var<private> acc4: array<mat4x4<f32>, 8>;
var<private> acc5: array<mat4x4<f32>, 8>;
var<private> acc6: array<mat4x4<f32>, 8>;
var<private> acc7: array<mat4x4<f32>, 8>;

// Stored X[row, col .. col+3] of a rows×cols matrix X (a when isA, else b). Rows and columns past the
// edge are clamped, except along K (kRow: the row index is k; kCol: the columns are) where they read 0.
fn load4(isA: bool, row: u32, col: u32, rows: u32, cols: u32, kRow: bool, kCol: bool) -> vec4<f32> {
  let r = min(row, rows - 1u);
  var v: vec4<f32>;
  if ((isA && ALIGNED_A) || (!isA && ALIGNED_B)) {
    // Inside C, col + 3 < cols (along K too: K is then this row length, so K_ALIGNED); past it, only
    // for outputs that are never stored, take the last whole vec4.
    let e = (r * cols + min(col, cols - 4u)) >> 2u;
    if (isA) { v = a[e]; } else { v = b[e]; }
  } else {
    for (var j = 0u; j < 4u; j++) {
      let f = r * cols + min(col + j, cols - 1u);
      if (isA) { v[j] = a[f >> 2u][f & 3u]; } else { v[j] = b[f >> 2u][f & 3u]; }
    }
    if (kCol && !K_ALIGNED) { v = select(vec4<f32>(0.0), v, col + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(cols)); }
  }
  if (kRow && !K_ALIGNED) { v = select(vec4<f32>(0.0), v, row < rows); }
  return v;
}

// Column i is opA(A)[m + i, k .. k+3].
fn tileA(m: u32, k: u32) -> mat4x4<f32> {
  let M = params.M;
  let K = params.K;
  if (TRANSPOSE_A) {
    return transpose(mat4x4<f32>(load4(true, k, m, K, M, true, false), load4(true, k + 1u, m, K, M, true, false),
                                 load4(true, k + 2u, m, K, M, true, false), load4(true, k + 3u, m, K, M, true, false)));
  }
  return mat4x4<f32>(load4(true, m, k, M, K, false, true), load4(true, m + 1u, k, M, K, false, true),
                     load4(true, m + 2u, k, M, K, false, true), load4(true, m + 3u, k, M, K, false, true));
}

// Column kk is opB(B)[k + kk, n .. n+3].
fn tileB(k: u32, n: u32) -> mat4x4<f32> {
  let N = params.N;
  let K = params.K;
  if (TRANSPOSE_B) {
    return transpose(mat4x4<f32>(load4(false, n, k, N, K, false, true),
                                 load4(false, n + 1u, k, N, K, false, true),
                                 load4(false, n + 2u, k, N, K, false, true),
                                 load4(false, n + 3u, k, N, K, false, true)));
  }
  return mat4x4<f32>(load4(false, k, n, K, N, true, false), load4(false, k + 1u, n, K, N, true, false),
                     load4(false, k + 2u, n, K, N, true, false), load4(false, k + 3u, n, K, N, true, false));
}

// Loads this step's tiles for the block at (m, n).
fn loadTiles(m: u32, n: u32, k: u32) {
  ta[0] = tileA(m, k);
  if (TM > 4u) { ta[1] = tileA(m + 4u, k); }
  if (TM > 8u) { ta[2] = tileA(m + 8u, k); ta[3] = tileA(m + 12u, k); }
  if (TM > 16u) {
    ta[4] = tileA(m + 16u, k); ta[5] = tileA(m + 20u, k);
    ta[6] = tileA(m + 24u, k); ta[7] = tileA(m + 28u, k);
  }
  tb[0] = tileB(k, n);
  if (TN > 4u) { tb[1] = tileB(k, n + 4u); }
  if (TN > 8u) { tb[2] = tileB(k, n + 8u); tb[3] = tileB(k, n + 12u); }
  if (TN > 16u) {
    tb[4] = tileB(k, n + 16u); tb[5] = tileB(k, n + 20u);
    tb[6] = tileB(k, n + 24u); tb[7] = tileB(k, n + 28u);
  }
}

// One row of tiles: accRow[t] += tb[t] · ta (column i of tb·ta is Σ_kk tb[kk] · ta[i][kk]).
fn multiplyRow(accRow: ptr<private, array<mat4x4<f32>, 8>>, t: mat4x4<f32>) {
  (*accRow)[0] += tb[0] * t;
  if (TN > 4u) { (*accRow)[1] += tb[1] * t; }
  if (TN > 8u) { (*accRow)[2] += tb[2] * t; (*accRow)[3] += tb[3] * t; }
  if (TN > 16u) {
    (*accRow)[4] += tb[4] * t; (*accRow)[5] += tb[5] * t; (*accRow)[6] += tb[6] * t; (*accRow)[7] += tb[7] * t;
  }
}

fn multiplyTiles() {
  multiplyRow(&acc0, ta[0]);
  if (TM > 4u) { multiplyRow(&acc1, ta[1]); }
  if (TM > 8u) { multiplyRow(&acc2, ta[2]); multiplyRow(&acc3, ta[3]); }
  if (TM > 16u) {
    multiplyRow(&acc4, ta[4]); multiplyRow(&acc5, ta[5]); multiplyRow(&acc6, ta[6]); multiplyRow(&acc7, ta[7]);
  }
}

// Element e + j of a row-major buffer of `count` values, for j < 4; past the end, the last one (read
// only for entries of C that are not stored).
fn aux4(e: u32, count: u32) -> vec4<f32> {
  let last = count - 1u;
  return vec4<f32>(aux[min(e, last)], aux[min(e + 1u, last)], aux[min(e + 2u, last)], aux[min(e + 3u, last)]);
}

fn c4(e: u32, count: u32) -> vec4<f32> {
  let last = count - 1u;
  return vec4<f32>(c[min(e, last)], c[min(e + 1u, last)], c[min(e + 2u, last)], c[min(e + 3u, last)]);
}

// What the store writes for p = P[row, n .. n+3], given `prior`: Y there (EPI_GRAD) or C's current values
// (EPI_SGD, EPI_ADD; unused otherwise) and the bias of those columns (EPI_FORWARD with HAS_BIAS, else 0).
// Shared by every matmul kernel, so each epilogue is written once.
fn epilogue4(p: vec4<f32>, prior: vec4<f32>, bias4: vec4<f32>) -> vec4<f32> {
  if (EPILOGUE == EPI_GRAD) { return p * activateGrad4(ACTIVATION, prior); }
  if (EPILOGUE == EPI_SGD) { return prior - params.lr * (p + params.wd * prior); }
  if (EPILOGUE == EPI_ADD) { return prior + p; }
  return activate4(ACTIVATION, p + bias4);
}

// Row `row` of C from p = P[row, n .. n+3] through the epilogue; columns from N on are not stored.
fn storeRow4(p: vec4<f32>, row: u32, n: u32, M: u32, N: u32, bias4: vec4<f32>) {
  if (row >= M) { return; }
  let e = row * N + n;
  var prior = vec4<f32>(0.0);
  if (EPILOGUE == EPI_GRAD) { prior = aux4(e, M * N); }
  if (EPILOGUE == EPI_SGD || EPILOGUE == EPI_ADD) { prior = c4(e, M * N); }
  let v = epilogue4(p, prior, bias4);
  c[e] = v.x;
  if (n + 1u < N) { c[e + 1u] = v.y; }
  if (n + 2u < N) { c[e + 2u] = v.z; }
  if (n + 3u < N) { c[e + 3u] = v.w; }
}

// C[m .. m+3, n .. n+3] from the tile t (column i = P[m + i, n .. n+3]) of an M×N product; n < N.
fn storeTile(t: mat4x4<f32>, m: u32, n: u32, M: u32, N: u32) {
  var bias4 = vec4<f32>(0.0);
  if (EPILOGUE == EPI_FORWARD && HAS_BIAS) { bias4 = aux4(n, N); }
  // A loop, unlike the multiply: one copy of the epilogue per tile keeps big pipelines quick to compile.
  for (var i = 0u; i < 4u; i++) { storeRow4(t[i], m + i, n, M, N, bias4); }
}

// Stores the 4×4 tile P[m .. m+3, n .. n+3] of the product as computed (column i = row m + i).
fn store4x4(t: mat4x4<f32>, m: u32, n: u32) {
  if (TRANSPOSE_C) {
    // The product was Cᵀ: this tile is C[n .. n+3, m .. m+3] transposed.
    if (m < params.M) { storeTile(transpose(t), n, m, params.N, params.M); }
  } else {
    if (n < params.N) { storeTile(t, m, n, params.M, params.N); }
  }
}

// The stores loop over the tiles, so the epilogue is compiled once, not once per tile (compile time
// matters on SwiftShader). They index a function-local copy of the accumulators: a dynamic index into
// acc0..acc7 themselves would stop SwiftShader keeping them as plain values in the multiply (slower).
fn storeTiles(m: u32, n: u32) {
  var tiles: array<array<mat4x4<f32>, 8>, 8>;
  tiles[0] = acc0;
  if (TM > 4u) { tiles[1] = acc1; }
  if (TM > 8u) { tiles[2] = acc2; tiles[3] = acc3; }
  if (TM > 16u) { tiles[4] = acc4; tiles[5] = acc5; tiles[6] = acc6; tiles[7] = acc7; }
  for (var r = 0u; r < TM / 4u; r++) {
    for (var t = 0u; t < TN / 4u; t++) { store4x4(tiles[r][t], m + 4u * r, n + 4u * t); }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * TM;
  let n0 = gid.x * TN;
  if (m0 >= params.M || n0 >= params.N) { return; }
  for (var k = 0u; k < params.K; k += 4u) {
    loadTiles(m0, n0, k);
    multiplyTiles();
  }
  storeTiles(m0, n0);
}
