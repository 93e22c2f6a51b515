// columns.wgsl — strided 2-D copies for layers whose weights are split into column blocks.
//
// Formula: dst[dOff + r·dStride + c] = src[sOff + r·sStride + c]   (ADD: dst[…] += src[…])
//   for r < rows, c < cols. With it a layer split into column blocks W_j scatters each block's output
//   into its columns of the full activation, gathers its columns of dZ, and sums the blocks' shares of
//   dA_prev. Offsets and strides are in f32 elements.
// Bindings (group 0): 0 src (read), 1 dst (read_write), 2 params {rows, cols, sStride, sOff, dStride, dOff}.
// Dispatch: one invocation per copied element, laid out as in activation.wgsl.
// CPU twin: none needed — the CPU trainer never splits; the parity tests compare split GPU layers to it.

override WG: u32 = 256u;
override ADD: bool = false;

struct Params { rows: u32, cols: u32, sStride: u32, sOff: u32, dStride: u32, dOff: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= params.rows * params.cols) { return; }
  let r = e / params.cols;
  let c = e - r * params.cols;
  let s = src[params.sOff + r * params.sStride + c];
  let d = params.dOff + r * params.dStride + c;
  if (ADD) { dst[d] += s; } else { dst[d] = s; }
}
