enable subgroups;
// matmul_sg.wgsl — the same product as matmul.wgsl, for adapters that run 4 invocations as the 4 lanes
// of one CPU SIMD register (SwiftShader: subgroup size 4). Entry point main_sg; built from this file,
// matmul.wgsl (whose tile registers, multiply and store it reuses) and activation_fns.wgsl.
//
// Formula: as in matmul.wgsl, with the same EPILOGUE choices.
// Bindings (group 0): 0 a: A as stored (read), 1 bt: opB(B) in an rgba32float texture, texel (x, k) =
//   opB(B)[k, 4x .. 4x+3], at least ceil(N / (4·TN))·TN texels wide (every lane's columns) and K rounded
//   up to a multiple of 4 high; pack.wgsl fills it, with zeros past N and in the rows past K (an eager
//   op may instead copy B in when no rows need padding, leaving other texels as they were: past N they
//   feed only columns of C that are never stored); 2 aux, 3 c and 4 params {M, N, K, lr} as in matmul.wgsl.
// Dispatch: ceil(blocks / SUBGROUPS) workgroups along x, where blocks = ceil(M / TM) · ceil(N / (4·TN)).
// TRANSPOSE_C: the host may instead hand this kernel the transposed problem Cᵀ = opB(B)ᵀ · opA(A)ᵀ (B as
//   "A", opA(A)ᵀ packed as "B", M and N swapped), so that the smaller operand is the one packed; the
//   tiles are transposed back when stored.
//
// Each subgroup (4 lanes) computes a TM × 4·TN block of C; lane l takes columns l·TN .. l·TN+TN of it.
// Why: on SwiftShader a load from a buffer costs one emulated gather per f32 per 4 lanes, tens of
// instructions, so loads, not multiply-adds, set the speed. Here
//   - the lanes share their rows of A: each lane loads a quarter of them (TM/4 vec4 per 4-step of k)
//     and subgroupBroadcast hands them to the others, a register shuffle;
//   - B comes through textureLoad, which SwiftShader does as four plain vector loads per 4 lanes;
// so a 4-step of k costs TM/4 + TN vec4 loads per lane instead of TM + TN.
// Rows past M are clamped (they feed only rows that are never stored) and lanes past N read texels
// inside the texture, so the k loop has no branches; it must not: subgroupBroadcast needs every lane
// of the subgroup to take part. The caller keeps A's stored rows a multiple of 4 long (vec4
// loads); entries of A past K are read as 0 (the texture's padded rows are 0 too, but 0 · inf is NaN).

override SUBGROUPS: u32 = 8u;  // per workgroup; the workgroup is 4·SUBGROUPS invocations

@group(0) @binding(1) var bt: texture_2d<f32>;

// This 4-step's tile of opA(A) for rows m .. m+3 from the vec4 v that each lane loaded: lane j's v is
// row m + j (the plain form) or row k + j of the stored Aᵀ (the transposed form).
fn sharedTileA(v: vec4<f32>) -> mat4x4<f32> {
  let t = mat4x4<f32>(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u),
                      subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
  if (TRANSPOSE_A) { return transpose(t); }
  return t;
}

// The vec4 this lane contributes to the tile of rows m .. m+3 at step k.
fn laneA(m: u32, k: u32, lane: u32) -> vec4<f32> {
  let M = params.M;
  let K = params.K;
  if (TRANSPOSE_A) {
    // Stored K×M, M a multiple of 4: row k + lane, columns m .. m+3 (past M: the last whole vec4).
    let row = k + lane;
    let v = a[(min(row, K - 1u) * M + min(m, M - 4u)) >> 2u];
    return select(vec4<f32>(0.0), v, row < K);
  }
  // Stored M×K, K a multiple of 4: row m + lane, columns k .. k+3.
  return a[(min(m + lane, M - 1u) * K + k) >> 2u];
}

fn textureTileB(k: u32, n: u32) -> mat4x4<f32> {
  let x = n >> 2u;
  return mat4x4<f32>(textureLoad(bt, vec2<u32>(x, k), 0), textureLoad(bt, vec2<u32>(x, k + 1u), 0),
                     textureLoad(bt, vec2<u32>(x, k + 2u), 0), textureLoad(bt, vec2<u32>(x, k + 3u), 0));
}

fn loadSharedTiles(m: u32, n: u32, k: u32, lane: u32) {
  ta[0] = sharedTileA(laneA(m, k, lane));
  if (TM > 4u) { ta[1] = sharedTileA(laneA(m + 4u, k, lane)); }
  if (TM > 8u) { ta[2] = sharedTileA(laneA(m + 8u, k, lane)); ta[3] = sharedTileA(laneA(m + 12u, k, lane)); }
  if (TM > 16u) {
    ta[4] = sharedTileA(laneA(m + 16u, k, lane)); ta[5] = sharedTileA(laneA(m + 20u, k, lane));
    ta[6] = sharedTileA(laneA(m + 24u, k, lane)); ta[7] = sharedTileA(laneA(m + 28u, k, lane));
  }
  tb[0] = textureTileB(k, n);
  if (TN > 4u) { tb[1] = textureTileB(k, n + 4u); }
  if (TN > 8u) { tb[2] = textureTileB(k, n + 8u); tb[3] = textureTileB(k, n + 12u); }
  if (TN > 16u) {
    tb[4] = textureTileB(k, n + 16u); tb[5] = textureTileB(k, n + 20u);
    tb[6] = textureTileB(k, n + 24u); tb[7] = textureTileB(k, n + 28u);
  }
}

@compute @workgroup_size(4u * SUBGROUPS, 1, 1)
fn main_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32,
           @builtin(subgroup_invocation_id) lane: u32) {
  let colBlocks = (params.N + 4u * TN - 1u) / (4u * TN);
  // Invocations 4s .. 4s+3 of a workgroup form subgroup s (the host only offers this kernel where
  // subgroups are exactly 4 wide); neighbouring subgroups take neighbouring column blocks.
  let block = wid.x * SUBGROUPS + li / 4u;
  let m0 = (block / colBlocks) * TM;
  let n0 = (block % colBlocks) * 4u * TN + lane * TN;
  for (var k = 0u; k < params.K; k += 4u) {
    loadSharedTiles(m0, n0, k, lane);
    multiplyTiles();
  }
  if (m0 < params.M && n0 < params.N) { storeTiles(m0, n0); }
}
