// activation_fns.wgsl — the elementwise activation functions and their derivatives, shared WGSL functions.
//
// Not a kernel: the loader (src/gpu/shaders.ts) places this file in front of every module that lists
// it as a dependency (matmul, matmul_sg, activation, mse), so each activation is written once.
//   ACT_LINEAR:  f(z) = z,                    f'(y) = 1
//   ACT_RELU:    f(z) = max(0, z),            f'(y) = y > 0 ? 1 : 0
//   ACT_SIGMOID: f(z) = 1 / (1 + exp(-z)),    f'(y) = y (1 - y)
//   ACT_TANH:    f(z) = tanh(z),              f'(y) = 1 - y²
// Derivatives take y = f(z), as DESIGN.md defines them, so Z never has to be kept. (softmax is not
// elementwise: softmax.wgsl does it row by row; these functions treat its code as linear.)
// CPU twins: activate() and activateGrad() in src/cpu/ops.ts.

const ACT_LINEAR: u32 = 0u;
const ACT_RELU: u32 = 1u;
const ACT_SIGMOID: u32 = 2u;
const ACT_TANH: u32 = 3u;

// tanh saturates to ±1 in f32 long before |z| = 10; clamping keeps an implementation that goes through
// exp() from overflowing to inf / inf.
const TANH_LIMIT: f32 = 10.0;

fn activate(kind: u32, z: f32) -> f32 {
  switch kind {
    case ACT_RELU: { return max(z, 0.0); }
    case ACT_SIGMOID: { return 1.0 / (1.0 + exp(-z)); }
    case ACT_TANH: { return tanh(clamp(z, -TANH_LIMIT, TANH_LIMIT)); }
    default: { return z; }
  }
}

fn activate4(kind: u32, z: vec4<f32>) -> vec4<f32> {
  switch kind {
    case ACT_RELU: { return max(z, vec4<f32>(0.0)); }
    case ACT_SIGMOID: { return 1.0 / (1.0 + exp(-z)); }
    case ACT_TANH: { return tanh(clamp(z, vec4<f32>(-TANH_LIMIT), vec4<f32>(TANH_LIMIT))); }
    default: { return z; }
  }
}

fn activateGrad(kind: u32, y: f32) -> f32 {
  switch kind {
    case ACT_RELU: { return select(0.0, 1.0, y > 0.0); }
    case ACT_SIGMOID: { return y * (1.0 - y); }
    case ACT_TANH: { return 1.0 - y * y; }
    default: { return 1.0; }
  }
}

fn activateGrad4(kind: u32, y: vec4<f32>) -> vec4<f32> {
  switch kind {
    case ACT_RELU: { return select(vec4<f32>(0.0), vec4<f32>(1.0), y > vec4<f32>(0.0)); }
    case ACT_SIGMOID: { return y * (1.0 - y); }
    case ACT_TANH: { return 1.0 - y * y; }
    default: { return vec4<f32>(1.0); }
  }
}
