// bias_grad.wgsl — column sums: db[n] = Σ_m dz[m, n]  (dz is M×N row-major, db is 1×N); with
// ACCUMULATE, db[n] += Σ_m dz[m, n] (gradients summed over the micro-batches of one batch).
//
// Bindings (group 0): 0 dz (read), 1 db (read_write), 2 params {M, N}.
// Dispatch: (ceil(N / WG_COLS), 1, 1). A workgroup owns WG_COLS columns; its WG_ROWS threads per column
//   each sum every WG_ROWS-th row, then a tree reduction in workgroup memory combines them.
//   Rows are read across a workgroup's columns, so neighbouring threads read neighbouring floats.
// CPU twin: biasGradInto() in src/cpu/ops.ts.

override WG_COLS: u32 = 32u;
override WG_ROWS: u32 = 8u;
override ACCUMULATE: bool = false;

struct Params { M: u32, N: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<storage, read> dz: array<f32>;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG_COLS * WG_ROWS>;

@compute @workgroup_size(WG_COLS, WG_ROWS, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = wid.x * WG_COLS + lid.x;
  var sum = 0.0;
  if (col < params.N) {
    for (var row = lid.y; row < params.M; row += WG_ROWS) {
      sum += dz[row * params.N + col];
    }
  }
  partial[lid.y * WG_COLS + lid.x] = sum;
  // WG_ROWS is a power of two (assertPowerOfTwo in kernels/bias_grad.ts), so halving reaches 1.
  for (var stride = WG_ROWS / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lid.y < stride) {
      partial[lid.y * WG_COLS + lid.x] += partial[(lid.y + stride) * WG_COLS + lid.x];
    }
  }
  if (lid.y == 0u && col < params.N) {
    if (ACCUMULATE) { db[col] += partial[lid.x]; } else { db[col] = partial[lid.x]; }
  }
}
