// softmax.wgsl — row-wise softmax, its backward pass, and the cross-entropy loss fused with its gradient.
//
// Formulas, for each row r of a rows×cols matrix (one invocation per row, so any width works):
//   forward:      P[r, :] = exp(Z[r, :] − m) / Σ_j exp(Z[r, j] − m),  m = max_j Z[r, j]   (in place: Z → P)
//   backward:     dX[r, j] = Y[r, j] · (dY[r, j] − Σ_k dY[r, k] · Y[r, k])             (Y = softmax output)
//   crossEntropy: from the logits Z (in place, Z → P as in forward), with s = Σ_j exp(Z[r, j] − m):
//                 stats[r]        = Σ_j T[r, j] · ((m − Z[r, j]) + log s)   the row's cross-entropy, finite for any Z
//                 stats[rows + r] = 1 if argmax P[r, :] = argmax T[r, :] else 0   (ties: the first index)
//                 GRAD: dZ[r, j]  = (P[r, j] − T[r, j]) · scale, scale = 1 / (the batch's rows): the mean
//                 cross-entropy's gradient at the logits, so no softmax Jacobian pass is needed.
// Bindings (group 0):
//   forward:      0 z (read_write), 1 params {rows, cols}
//   backward:     0 y (read), 1 dy (read), 2 dx (read_write), 3 params
//   crossEntropy: 0 z (read_write), 1 t (read), 2 dz (read_write; a dummy without GRAD), 3 stats
//                 (read_write, 2·rows), 4 params {rows, cols, scale}
// Dispatch: one invocation per row, laid out as in activation.wgsl.
// CPU twins: softmaxInto(), activationBackwardInto(), crossEntropySum(), crossEntropyGradInto() and
//   correctRows() in src/cpu/ops.ts.

override WG: u32 = 64u;
override GRAD: bool = false;

struct Params { rows: u32, cols: u32, scale: f32, pad: u32 }

fn rowIndex(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

@group(0) @binding(0) var<storage, read_write> z: array<f32>;
@group(0) @binding(1) var<uniform> fwd: Params;

// The row's maximum m and Σ exp(z − m), from z[base .. base + cols). Probabilities are then
// exp(z − m) / Σ and log-probabilities (z − m) − log Σ: z − m is exact for the large entries (they are
// close to m), where going through m + log Σ first would round at the scale of m.
fn rowMaxSum(base: u32, cols: u32) -> vec2<f32> {
  var m = z[base];
  for (var j = 1u; j < cols; j++) { m = max(m, z[base + j]); }
  var sum = 0.0;
  for (var j = 0u; j < cols; j++) { sum += exp(z[base + j] - m); }
  return vec2<f32>(m, sum);
}

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = rowIndex(gid, nwg);
  if (r >= fwd.rows) { return; }
  let base = r * fwd.cols;
  let s = rowMaxSum(base, fwd.cols);
  for (var j = 0u; j < fwd.cols; j++) { z[base + j] = exp(z[base + j] - s.x) / s.y; }
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> bwd: Params;

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = rowIndex(gid, nwg);
  if (r >= bwd.rows) { return; }
  let base = r * bwd.cols;
  var dot = 0.0;
  for (var j = 0u; j < bwd.cols; j++) { dot += dy[base + j] * y[base + j]; }
  for (var j = 0u; j < bwd.cols; j++) { dx[base + j] = y[base + j] * (dy[base + j] - dot); }
}

@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<uniform> ce: Params;

@compute @workgroup_size(WG)
fn crossEntropy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = rowIndex(gid, nwg);
  if (r >= ce.rows) { return; }
  let base = r * ce.cols;
  let s = rowMaxSum(base, ce.cols);
  let logSum = log(s.y);
  var loss = 0.0;
  // The largest logit so far (z[] itself is overwritten with P as the loop goes).
  var bestZ = z[base];
  var bestP = 0u;
  var bestT = 0u;
  for (var j = 0u; j < ce.cols; j++) {
    let zj = z[base + j];
    let tj = t[base + j];
    if (tj != 0.0) { loss += tj * ((s.x - zj) + logSum); }
    if (zj > bestZ) { bestZ = zj; bestP = j; }
    if (tj > t[base + bestT]) { bestT = j; }
    let p = exp(zj - s.x) / s.y;
    z[base + j] = p;
    if (GRAD) { dz[base + j] = (p - tj) * ce.scale; }
  }
  stats[r] = loss;
  stats[ce.rows + r] = select(0.0, 1.0, bestP == bestT);
}
