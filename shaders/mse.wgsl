// mse.wgsl — mean squared error and its gradient (fused with the output activation's derivative).
//
// Formulas (n = rows·cols elements of pred p and target t):
//   partial: parts[w] = Σ over the elements workgroup w visits of (p[i] - t[i])²
//   finish:  loss[0] = scale · Σ_w parts[first + w], w < nParts   with scale = 1/n (ACCUMULATE adds to
//            loss[0] instead, so fit can sum a whole epoch's losses on the GPU and read them back once).
//            Also the sum of softmax.wgsl's per-row cross-entropies and right-answer flags.
//   grad:    g[i] = scale · (p[i] - t[i]) · f'(p[i])   with scale = 2/n and f = ACTIVATION, so for a
//            linear output this is mseGrad and for a sigmoid/relu output it is already dZ.
// Bindings (group 0):
//   partial: 0 p (read), 1 t (read), 2 parts (read_write), 3 params
//   finish:  0 parts (read), 1 loss (read_write), 2 params
//   grad:    0 p (read), 1 t (read), 2 g (read_write), 3 params
//   params = {n, nParts, scale, first}.
// Dispatch: partial (nParts, 1, 1) with nParts ≤ 256, grid-stride over n; finish (1, 1, 1);
//   grad: one invocation per element, laid out as in activation.wgsl.
// Needs activation_fns.wgsl. CPU twins: squaredErrorSum() and mseGradInto() in src/cpu/ops.ts.

override WG: u32 = 256u;
override ACTIVATION: u32 = 0u;
override ACCUMULATE: bool = false;

struct Params { n: u32, nParts: u32, scale: f32, first: u32 }

var<workgroup> scratch: array<f32, WG>;

// Sums scratch[0..WG) into scratch[0]. WG is a power of two (assertPowerOfTwo in kernels/mse.ts).
fn reduceScratch(lid: u32) {
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lid < stride) { scratch[lid] += scratch[lid + stride]; }
  }
}

@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read_write> parts: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = wid.x * WG + lid; i < params.n; i += params.nParts * WG) {
    let d = p[i] - t[i];
    sum += d * d;
  }
  scratch[lid] = sum;
  reduceScratch(lid);
  if (lid == 0u) { parts[wid.x] = scratch[0]; }
}

@group(0) @binding(0) var<storage, read> partsIn: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<uniform> finishParams: Params;

@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_index) lid: u32) {
  var sum = 0.0;
  for (var i = lid; i < finishParams.nParts; i += WG) { sum += partsIn[finishParams.first + i]; }
  scratch[lid] = sum;
  reduceScratch(lid);
  if (lid == 0u) {
    let value = scratch[0] * finishParams.scale;
    if (ACCUMULATE) { loss[0] += value; } else { loss[0] = value; }
  }
}

@group(0) @binding(0) var<storage, read> gp: array<f32>;
@group(0) @binding(1) var<storage, read> gt: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;
@group(0) @binding(3) var<uniform> gradParams: Params;

@compute @workgroup_size(WG)
fn grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= gradParams.n) { return; }
  let pi = gp[i];
  g[i] = gradParams.scale * (pi - gt[i]) * activateGrad(ACTIVATION, pi);
}
