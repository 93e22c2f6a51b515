// activation.wgsl — elementwise activation and its backward pass.
//
// Formulas (n = rows·cols elements, ACTIVATION picks f; see activation_fns.wgsl):
//   forward:  y[i] = f(x[i])
//   backward: dx[i] = dy[i] · f'(y[i])          (f' in terms of y = f(z))
// Bindings (group 0): forward:  0 x (read), 1 y (read_write), 2 params {n}
//                     backward: 0 y (read), 1 dy (read), 2 dx (read_write), 3 params {n}
// Dispatch: one invocation per element; (min(g, 65535), ceil(g / 65535), 1) workgroups for g = ceil(n / WG)
//   so sizes past 65535 workgroups still fit; invocations past n do nothing.
// Needs activation_fns.wgsl. CPU twins: activationInto() and activationBackwardInto() in src/cpu/ops.ts.

override WG: u32 = 256u;
override ACTIVATION: u32 = 0u;

struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> fwd: Params;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= fwd.n) { return; }
  y[i] = activate(ACTIVATION, x[i]);
}

@group(0) @binding(0) var<storage, read> yIn: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> bwd: Params;

@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= bwd.n) { return; }
  dx[i] = dy[i] * activateGrad(ACTIVATION, yIn[i]);
}
