// The saved-network format: plain JSON with the spec, the weights and the optimizer state, f32 values
// stored losslessly as base64. decodeNetwork checks the whole file before anything is built from it.
// Knows no backend.
import { checkSpec, type CheckedSpec } from './spec';
import { emptyState, type LayerParams, layerShapes, type OptimizerState, type Snapshot } from './trainer';
import { fail, firstNonFinite } from './validate';

export const FORMAT = 'webgpu-backprop/network';
export const FORMAT_VERSION = 1;

const OP = 'Network.fromJSON';

function encodeF32(a: Float32Array): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Decodes `count` little-endian f32 values, checking the encoded length before decoding anything. */
function decodeF32(s: unknown, count: number, what: string): Float32Array {
  const rule = `expected a base64 string of ${count} little-endian f32 values (${count * 4} bytes)`;
  if (typeof s !== 'string') fail(OP, what, s, rule);
  if (s.length !== 4 * Math.ceil((count * 4) / 3)) fail(OP, what, `a string of ${s.length} characters`, rule);
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    return fail(OP, what, 'a string that is not base64', rule);
  }
  if (bin.length !== count * 4) fail(OP, what, `${bin.length} bytes`, rule);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const values = new Float32Array(bytes.buffer);
  const bad = firstNonFinite(values);
  if (bad >= 0) fail(OP, what, `a tensor whose element ${bad} is ${values[bad]}`, 'every value must be finite');
  return values;
}

/** The network as JSON: spec, parameters and optimizer state. */
export function encodeNetwork(spec: CheckedSpec, snapshot: Snapshot): object {
  return {
    format: FORMAT,
    version: FORMAT_VERSION,
    inputSize: spec.inputSize,
    layers: spec.layers.map((l) => ({ ...l })),
    loss: spec.loss,
    optimizer: { ...spec.optimizer },
    seed: spec.seed,
    weights: snapshot.params.map((p) => ({ weights: encodeF32(p.weights), bias: encodeF32(p.bias) })),
    // Per layer the state tensors of W, then those of b.
    optimizerState: {
      step: snapshot.state.step,
      slots: snapshot.state.layers.map((l) => [...l.weights, ...l.bias].map(encodeF32)),
    },
  };
}

/** JSON text parsed, or the engine's complaint (syntax, nesting too deep) as InvalidArgumentError. */
function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    return fail(OP, 'json', `a string of ${text.length} characters`, `expected JSON text (${(e as Error).message})`);
  }
}

/**
 * A saved network, checked from format to every value; throws InvalidArgumentError at the first problem.
 * `checkSpec` runs on the spec before any tensor is decoded (sizes before allocations: a file that says
 * 10⁹ units is refused for its size, not by the engine).
 */
export function decodeNetwork(
  json: unknown,
  checkSize: (spec: CheckedSpec) => void = () => {},
): { spec: CheckedSpec; params: LayerParams[]; state: OptimizerState } {
  const j = (typeof json === 'string' ? parse(json) : json) as Record<string, unknown> | null;
  if (typeof j !== 'object' || j === null || j.format !== FORMAT)
    fail(OP, 'json.format', j?.format, `expected '${FORMAT}'`);
  if (j.version !== FORMAT_VERSION) fail(OP, 'json.version', j.version, `expected ${FORMAT_VERSION}`);
  const spec = checkSpec(j);
  checkSize(spec);
  const shapes = layerShapes(spec.inputSize, spec.layers);
  const weights = j.weights as { weights?: unknown; bias?: unknown }[] | undefined;
  if (!Array.isArray(weights) || weights.length !== shapes.length) {
    fail(OP, 'json.weights', weights, `expected ${shapes.length} entries, one per layer`);
  }
  const params = shapes.map(({ inSize, units }, i) => ({
    weights: decodeF32(weights[i]?.weights, inSize * units, `json.weights[${i}].weights`),
    bias: decodeF32(weights[i]?.bias, units, `json.weights[${i}].bias`),
  }));
  const state = emptyState(spec.inputSize, spec.layers, spec.optimizer);
  const saved = j.optimizerState as { step?: unknown; slots?: unknown } | undefined;
  if (saved !== undefined && (saved === null || typeof saved !== 'object' || Array.isArray(saved))) {
    fail(OP, 'json.optimizerState', saved, 'expected an object { step, slots } or no optimizerState');
  }
  if (saved !== undefined) {
    const step = saved.step ?? 0;
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) {
      fail(OP, 'json.optimizerState.step', step, 'expected an integer ≥ 0');
    }
    state.step = step;
    const slots = saved.slots as unknown[][] | undefined;
    // A file without slots starts the optimizer state from zero.
    if (slots !== undefined) {
      state.layers.forEach((layer, i) => {
        const tensors = [...layer.weights, ...layer.bias];
        const decoded = tensors.map((t, k) =>
          decodeF32(slots?.[i]?.[k], t.length, `json.optimizerState.slots[${i}][${k}]`),
        );
        layer.weights = decoded.slice(0, layer.weights.length);
        layer.bias = decoded.slice(layer.weights.length);
      });
    }
  }
  return { spec, params, state };
}
