// gather.wgsl — forms a training batch on the GPU from the resident data set and a permutation.
//
// Formula: out[i, j] = src[idx[offset + i], j]   for i < rows (the batch), j < cols (the row width).
// Bindings (group 0): 0 src: the whole data set, n×cols (read), 1 idx: the epoch's permutation of 0..n-1
//   as u32 (read), 2 out: rows×cols (read_write), 3 params {rows, cols}, 4 batch {offset} (uniform; the
//   one value that changes per step, shared by the x and y gathers and written before each submit).
// Dispatch: one invocation per output element, laid out as in activation.wgsl.
// CPU twin: the row copy in CpuTrainer's epoch loop (src/cpu/trainer.ts).

override WG: u32 = 256u;

struct Params { rows: u32, cols: u32, pad0: u32, pad1: u32 }
struct Batch { offset: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<uniform> batch: Batch;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= params.rows * params.cols) { return; }
  let i = e / params.cols;
  let j = e - i * params.cols;
  out[e] = src[idx[batch.offset + i] * params.cols + j];
}
