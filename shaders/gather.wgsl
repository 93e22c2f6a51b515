// gather.wgsl — forms a training (micro-)batch on the GPU from a data set held in GPU buffers.
//
// Formula: out[i, j] = src[r - shardStart, j]  with r = idx[offset + first + i], for i < rows (the
//   micro-batch), j < cols (the row width), and only where shardStart ≤ r < shardStart + shardRows: a
//   data set too big for one binding lives in several shards, and one gather per shard fills the rows
//   that shard holds. A whole data set is one shard (shardStart 0, shardRows n).
// Bindings (group 0): 0 src: one shard, shardRows×cols (read), 1 idx: the epoch's permutation as u32
//   (read), 2 out: rows×cols (read_write), 3 params {rows, cols, first, shardStart, shardRows},
//   4 batch {offset} (uniform; the one value that changes per step, shared by every gather of the step
//   and written before its submit). `first` is the micro-batch's first row within the batch.
// Dispatch: one invocation per output element, laid out as in activation.wgsl.
// CPU twin: the row copy in CpuTrainer's epoch loop (src/cpu/trainer.ts).

override WG: u32 = 256u;

struct Params { rows: u32, cols: u32, first: u32, shardStart: u32, shardRows: u32, pad0: u32, pad1: u32, pad2: u32 }
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
  let r = idx[batch.offset + params.first + i];
  if (r < params.shardStart || r - params.shardStart >= params.shardRows) { return; }
  out[e] = src[(r - params.shardStart) * params.cols + j];
}
