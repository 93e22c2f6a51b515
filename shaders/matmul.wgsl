// matmul.wgsl — C = op(A) · op(B) [+ bias] then f, with op = identity or transpose.
//
// Formula: C[m, n] = f( Σ_k opA(A)[m, k] · opB(B)[k, n] + bias[n] ), M×K · K×N → M×N, all row-major f32.
//   TRANSPOSE_A: A is stored K×M and read in place as Aᵀ (dW = A_prevᵀ · dZ needs it).
//   TRANSPOSE_B: B is stored N×K and read in place as Bᵀ (dA_prev = dZ · Wᵀ needs it).
// Bindings (group 0): 0 a: A (read), 1 b: B (read), 2 bias: 1×N (read; a dummy when HAS_BIAS is false),
//   3 c: C (read_write), 4 params: uniform {M, N, K}.
// Dispatch: (ceil(N / (4·WG_X)), ceil(M / (4·WG_Y)), 1). Each invocation computes a 4×4 block of C in
//   registers, reading A and B straight from global memory as vec4s (on the SwiftShader adapter this
//   beats staging tiles through workgroup memory, whose barriers are costly in software).
// Ragged edges: loads outside the matrix read 0 and stores outside it are skipped, so any M, N, K works.
//   ALIGNED_A / ALIGNED_B say the stored row length is a multiple of 4; then a 4-wide load is one
//   aligned vec4 load, otherwise four scalar loads.
// Needs activation_fns.wgsl. CPU twin: matmulInto() in src/cpu/backend.ts.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override TRANSPOSE_A: bool = false;
override TRANSPOSE_B: bool = false;
override ALIGNED_A: bool = false;
override ALIGNED_B: bool = false;
override HAS_BIAS: bool = false;
override ACTIVATION: u32 = 0u;

struct Params { M: u32, N: u32, K: u32, pad: u32 }

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// Stored A[row, col .. col+3] (A has `cols` columns, `rows` rows); zero outside. col is a multiple of 4.
fn loadA4(row: u32, col: u32, rows: u32, cols: u32) -> vec4<f32> {
  if (row >= rows || col >= cols) { return vec4<f32>(0.0); }
  let e = row * cols + col;
  if (ALIGNED_A) { return a[e >> 2u]; }
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (col + i < cols) { let f = e + i; v[i] = a[f >> 2u][f & 3u]; }
  }
  return v;
}

fn loadB4(row: u32, col: u32, rows: u32, cols: u32) -> vec4<f32> {
  if (row >= rows || col >= cols) { return vec4<f32>(0.0); }
  let e = row * cols + col;
  if (ALIGNED_B) { return b[e >> 2u]; }
  var v = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (col + i < cols) { let f = e + i; v[i] = b[f >> 2u][f & 3u]; }
  }
  return v;
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= M || n0 >= N) { return; }

  // acc[i] holds C[m0 + i, n0 .. n0+3].
  var acc = mat4x4<f32>();
  for (var k = 0u; k < K; k += 4u) {
    // ta[i] = opA(A)[m0 + i, k .. k+3];  tb[kk] = opB(B)[k + kk, n0 .. n0+3].
    var ta: mat4x4<f32>;
    var tb: mat4x4<f32>;
    if (TRANSPOSE_A) {
      // Stored rows k+kk hold opA(A)[m0 .. m0+3, k+kk]: load them and transpose in registers.
      ta = transpose(mat4x4<f32>(loadA4(k, m0, K, M), loadA4(k + 1u, m0, K, M),
                                 loadA4(k + 2u, m0, K, M), loadA4(k + 3u, m0, K, M)));
    } else {
      ta = mat4x4<f32>(loadA4(m0, k, M, K), loadA4(m0 + 1u, k, M, K),
                       loadA4(m0 + 2u, k, M, K), loadA4(m0 + 3u, k, M, K));
    }
    if (TRANSPOSE_B) {
      tb = transpose(mat4x4<f32>(loadB4(n0, k, N, K), loadB4(n0 + 1u, k, N, K),
                                 loadB4(n0 + 2u, k, N, K), loadB4(n0 + 3u, k, N, K)));
    } else {
      tb = mat4x4<f32>(loadB4(k, n0, K, N), loadB4(k + 1u, n0, K, N),
                       loadB4(k + 2u, n0, K, N), loadB4(k + 3u, n0, K, N));
    }
    // Column i of tb·ta is Σ_kk tb[kk] · ta[i][kk] = the 4 outputs of row m0+i over this k-slice.
    acc += tb * ta;
  }

  var bias4 = vec4<f32>(0.0);
  if (HAS_BIAS) {
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < N) { bias4[j] = bias[n0 + j]; }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let row = m0 + i;
    if (row >= M) { break; }
    let v = activate4(ACTIVATION, acc[i] + bias4);
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < N) { c[row * N + n0 + j] = v[j]; }
    }
  }
}
