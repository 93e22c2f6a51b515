// pack.wgsl — copies opB(B) into an rgba32float texture for matmul_sg.wgsl, transposing on the way when
// B is stored transposed.
//
// Formula: texel (x, y) = (opB(B)[y, 4x], …, opB(B)[y, 4x+3]), with opB(B) of size K×N (K rows), and 0
//   where y ≥ K or a column ≥ N. TRANSPOSE: B is stored N×K and opB(B) = Bᵀ; else B is stored K×N.
// Bindings (group 0): 0 src: B as stored (read; as vec4s, its buffer padded to 16 bytes), 1 dst: the
//   texture, width ≥ ceil(N/4) by height ≥ K texels (write-only storage texture), 2 params {K, N,
//   width, height} (uniform).
// Dispatch: (ceil(width / 64), height, 1), one invocation per texel.
// CPU twin: none; the matmul it feeds is checked against matmulInto() in src/cpu/ops.ts.
//
// Branch-free like matmul.wgsl (SwiftShader runs both sides of a divergent branch): indices are clamped
// into B and what lies outside opB(B) is zeroed with a select. ALIGNED (N % 4 == 0, plain form): a texel
// is one vec4 load; otherwise four scalar loads.

override TRANSPOSE: bool = false;
override ALIGNED: bool = false;

struct Params { K: u32, N: u32, width: u32, height: u32 }

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var dst: texture_storage_2d<rgba32float, write>;
@group(0) @binding(2) var<uniform> params: Params;

// opB(B)[row, col] for row < K, col < N.
fn at(row: u32, col: u32) -> f32 {
  var f: u32;
  if (TRANSPOSE) { f = col * params.K + row; } else { f = row * params.N + col; }
  return src[f >> 2u][f & 3u];
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= params.width || gid.y >= params.height) { return; }
  let K = params.K;
  let N = params.N;
  let row = min(gid.y, K - 1u);
  let col = gid.x * 4u;
  var v: vec4<f32>;
  if (ALIGNED && !TRANSPOSE) {
    v = src[(row * N + min(col, N - 4u)) >> 2u];
  } else {
    v = vec4<f32>(at(row, min(col, N - 1u)), at(row, min(col + 1u, N - 1u)),
                  at(row, min(col + 2u, N - 1u)), at(row, min(col + 3u, N - 1u)));
  }
  let inside = (vec4<u32>(col) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(N)) & vec4<bool>(gid.y < K);
  textureStore(dst, gid.xy, select(vec4<f32>(0.0), v, inside));
}
