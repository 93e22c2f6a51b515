// optimizer.wgsl — in-place parameter updates, one invocation per element, OPTIMIZER picks the rule.
//
// Formulas (p param, g gradient, s1/s2 optimizer state, all n elements), each then p −= lr · u:
//   OPT_SGD:      u = g
//   OPT_MOMENTUM: s1 = μ · s1 + g;  u = s1                              (the heavy-ball form PyTorch uses)
//   OPT_ADAM:     s1 = β1 · s1 + (1 - β1) · g;  s2 = β2 · s2 + (1 - β2) · g²;
//                 u = (s1 / c1) / (sqrt(s2 / c2) + ε)   with c1 = 1 - β1^t, c2 = 1 - β2^t
//                 (c1, c2 come from the host each step, so the step count t never lives on the GPU).
//   DECAY (weights, not biases): u += wd · p, p as before this step — decoupled weight decay (AdamW).
// Bindings (group 0): 0 p (read_write), 1 g (read), 2 s1 (read_write), 3 s2 (read_write),
//   4 size {n}, 5 hyper {lr, beta1 (μ for momentum), beta2, epsilon, c1, c2, wd} (uniforms). A network
//   shares one `hyper` block between all its tensors and rewrites it when the step or rate changes.
//   Unused state bindings get dummies.
// Dispatch: one invocation per element, laid out as in activation.wgsl.
// CPU twin: optimizerStepInto() in src/cpu/ops.ts.

override WG: u32 = 256u;
override OPTIMIZER: u32 = 0u;
override DECAY: bool = false;

const OPT_SGD: u32 = 0u;
const OPT_MOMENTUM: u32 = 1u;
const OPT_ADAM: u32 = 2u;

struct Size { n: u32, pad0: u32, pad1: u32, pad2: u32 }
struct Hyper { lr: f32, beta1: f32, beta2: f32, epsilon: f32, c1: f32, c2: f32, wd: f32, pad: f32 }

@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> s1: array<f32>;
@group(0) @binding(3) var<storage, read_write> s2: array<f32>;
@group(0) @binding(4) var<uniform> size: Size;
@group(0) @binding(5) var<uniform> params: Hyper;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= size.n) { return; }
  let gi = g[i];
  let pi = p[i];
  var u: f32;
  switch OPTIMIZER {
    case OPT_MOMENTUM: {
      let v = params.beta1 * s1[i] + gi;
      s1[i] = v;
      u = v;
    }
    case OPT_ADAM: {
      let m = params.beta1 * s1[i] + (1.0 - params.beta1) * gi;
      let v = params.beta2 * s2[i] + (1.0 - params.beta2) * gi * gi;
      s1[i] = m;
      s2[i] = v;
      u = (m / params.c1) / (sqrt(v / params.c2) + params.epsilon);
    }
    default: {
      u = gi;
    }
  }
  if (DECAY) { u += params.wd * pi; }
  p[i] = pi - params.lr * u;
}
