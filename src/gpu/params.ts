// A network's parameters on the GPU: per layer the weights W, the bias b, their gradients and the
// optimizer state, and how they are copied to and from the host (snapshots). A layer whose weights do
// not fit one binding is split into column blocks (W_j is in × cols), each a set of buffers of its own.
import { GpuMemoryError } from '../errors';
import {
  type LayerParams,
  layerShapes,
  type OptimizerState,
  type Snapshot,
  stateSlots,
  type TrainerSpec,
} from '../trainer';
import type { Activation } from '../types';
import type { BufferSpec, GpuContext } from './context';
import { paddedBytes } from './dispatch';

/** Columns col0 .. col0+cols of a layer's parameters, with their gradients and optimizer state. */
export interface Block {
  col0: number;
  cols: number;
  w: GPUBuffer;
  b: GPUBuffer;
  /** dW_j; none with SGD, whose step is fused into the dW matmul and writes W_j directly. */
  dw?: GPUBuffer;
  db: GPUBuffer;
  /** The optimizer's state tensors of W_j and of b_j, in OptimizerState's slot order. */
  state: { w: GPUBuffer[]; b: GPUBuffer[] };
}

export interface GpuLayer {
  inSize: number;
  units: number;
  activation: Activation;
  blocks: Block[];
}

/** The widest column block of an in × units layer whose weights fit a binding of `limit` bytes. */
function blockColumns(label: string, inSize: number, units: number, limit: number): number {
  if (paddedBytes(inSize * units) <= limit) return units;
  let cols = Math.floor((limit - 15) / (inSize * 4)); // paddedBytes rounds up to 16
  if (cols < 1) {
    throw new GpuMemoryError(
      `Network: ${label} (${inSize}×${units}) cannot be split to fit a binding of ${limit} bytes: a single column ` +
        `(${inSize} f32 = ${inSize * 4} bytes) is already larger`,
    );
  }
  if (cols >= 4) cols -= cols % 4; // keep blocks vec4-aligned
  return cols;
}

/** Columns col0 .. col0+cols of a row-major rows × total matrix. */
function sliceColumns(data: Float32Array, rows: number, total: number, col0: number, cols: number): Float32Array {
  if (cols === total) return data;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * total + col0, r * total + col0 + cols), r * cols);
  return out;
}

/**
 * The column blocks of every layer and the buffer specs (no values yet) of a network's parameters: per
 * block W, b, db, dW unless SGD is fused, then the optimizer state of W and of b. Throws GpuMemoryError
 * when a single column is over the binding limit. Allocates nothing, so it also serves as a size check.
 */
export function paramLayout(spec: Omit<TrainerSpec, 'params'>, bindingLimit: number, fusedSgd: boolean) {
  const slots = stateSlots(spec.optimizer);
  const specs: BufferSpec[] = [];
  const layers = layerShapes(spec.inputSize, spec.layers).map(({ inSize, units }, l) => {
    const width = blockColumns(`layer${l}.weights`, inSize, units, bindingLimit);
    const blocks: { col0: number; cols: number; first: number }[] = [];
    for (let col0 = 0; col0 < units; col0 += width) {
      const cols = Math.min(width, units - col0);
      const name = `layer${l}${width < units ? `.block${blocks.length}` : ''}`;
      const n = inSize * cols;
      blocks.push({ col0, cols, first: specs.length });
      specs.push(
        { label: `${name}.weights`, count: n },
        { label: `${name}.bias`, count: cols },
        { label: `${name}.bias.grad`, count: cols },
        ...(fusedSgd ? [] : [{ label: `${name}.weights.grad`, count: n }]),
        ...Array.from({ length: slots }, (_, k) => ({ label: `${name}.weights.state${k}`, count: n })),
        ...Array.from({ length: slots }, (_, k) => ({ label: `${name}.bias.state${k}`, count: cols })),
      );
    }
    return { inSize, units, blocks };
  });
  return { layers, specs };
}

/** A logical tensor of a layer as its per-block buffers; wide: W-shaped (in × cols), else b-shaped (1 × cols). */
interface Tensor {
  wide: boolean;
  buffers: GPUBuffer[];
}

export class ParamBuffers {
  readonly layers: GpuLayer[];
  readonly buffers: GPUBuffer[];

  /**
   * Makes every parameter buffer, checked against the binding limit and memory budget first from the
   * same list of buffer specs that is then allocated. `fusedSgd`: no dW buffers.
   */
  constructor(
    private readonly ctx: GpuContext,
    spec: TrainerSpec,
    fusedSgd: boolean,
  ) {
    const slots = stateSlots(spec.optimizer);
    const { layers, specs } = paramLayout(spec, ctx.bindingLimit, fusedSgd);
    // The initial values go into the weight and bias buffers of each block (the first two of its specs).
    layers.forEach(({ inSize, units, blocks }, l) => {
      const { weights, bias } = spec.params[l];
      for (const { col0, cols, first } of blocks) {
        specs[first].data = sliceColumns(weights, inSize, units, col0, cols);
        specs[first + 1].data = bias.slice(col0, col0 + cols);
      }
    });
    this.buffers = ctx.allocate('Network', specs);
    this.layers = layers.map(({ inSize, units, blocks }, l) => ({
      inSize,
      units,
      activation: spec.layers[l].activation,
      blocks: blocks.map(({ col0, cols, first }) => {
        const [w, b, db, ...rest] = this.buffers.slice(first, first + 3 + (fusedSgd ? 0 : 1) + 2 * slots);
        const dw = fusedSgd ? undefined : rest.shift();
        return { col0, cols, w, b, dw, db, state: { w: rest.slice(0, slots), b: rest.slice(slots) } };
      }),
    }));
  }

  /** Bytes of the dW buffers the blocks do not have (SGD fuses its step into the dW matmul instead). */
  get missingWeightGradBytes(): number {
    const missing = this.layers.flatMap((l) =>
      l.blocks.filter((b) => !b.dw).map((b) => paddedBytes(l.inSize * b.cols)),
    );
    return missing.reduce((s, b) => s + b, 0);
  }

  /**
   * Gives every block a dW buffer (gradients summed over micro-batches need one even with SGD). Returns
   * the buffers made, none if every block had one.
   */
  addWeightGrads(): GPUBuffer[] {
    const blocks = this.layers.flatMap((l) => l.blocks.filter((b) => !b.dw).map((b) => ({ l, b })));
    const specs = blocks.map(({ l, b }) => ({ label: `${b.w.label}.grad`, count: l.inSize * b.cols }));
    const made = this.ctx.allocate('fit: gradients summed over micro-batches', specs);
    blocks.forEach(({ b }, i) => {
      b.dw = made[i];
    });
    this.buffers.push(...made);
    return made;
  }

  /** A layer's tensors in snapshot order: W, b, then the optimizer state of W, then that of b. */
  private tensors(l: GpuLayer): Tensor[] {
    const k = l.blocks[0].state.w.length;
    return [
      { wide: true, buffers: l.blocks.map((b) => b.w) },
      { wide: false, buffers: l.blocks.map((b) => b.b) },
      ...Array.from({ length: k }, (_, j) => ({ wide: true, buffers: l.blocks.map((b) => b.state.w[j]) })),
      ...Array.from({ length: k }, (_, j) => ({ wide: false, buffers: l.blocks.map((b) => b.state.b[j]) })),
    ];
  }

  /** Floats in a snapshot: every tensor of every layer. */
  get snapshotFloats(): number {
    return this.layers.reduce(
      (sum, l) => sum + this.tensors(l).reduce((t, x) => t + (x.wide ? l.inSize : 1) * l.units, 0),
      0,
    );
  }

  /** Copies every block of every tensor into `staging`, block after block, from byteOffset on. */
  copySnapshot(encoder: GPUCommandEncoder, staging: GPUBuffer, byteOffset: number): void {
    for (const l of this.layers) {
      for (const t of this.tensors(l)) {
        t.buffers.forEach((buffer, j) => {
          const bytes = (t.wide ? l.inSize : 1) * l.blocks[j].cols * 4;
          encoder.copyBufferToBuffer(buffer, 0, staging, byteOffset, bytes);
          byteOffset += bytes;
        });
      }
    }
  }

  /** Reassembles what copySnapshot copied (from float `offset` of `data`) into whole row-major tensors. */
  decodeSnapshot(data: Float32Array, offset: number, step: number): Snapshot {
    const params: LayerParams[] = [];
    const state: OptimizerState = { step, layers: [] };
    for (const l of this.layers) {
      const whole = this.tensors(l).map((t) => {
        const rows = t.wide ? l.inSize : 1;
        const tensor = new Float32Array(rows * l.units);
        for (const block of l.blocks) {
          const part = data.subarray(offset, offset + rows * block.cols);
          offset += rows * block.cols;
          for (let r = 0; r < rows; r++) {
            tensor.set(part.subarray(r * block.cols, (r + 1) * block.cols), r * l.units + block.col0);
          }
        }
        return tensor;
      });
      const k = (whole.length - 2) / 2;
      params.push({ weights: whole[0], bias: whole[1] });
      state.layers.push({ weights: whole.slice(2, 2 + k), bias: whole.slice(2 + k) });
    }
    return { params, state };
  }

  /** Writes parameters (and, when given, the optimizer state) into the buffers, block by block. */
  restore(params: LayerParams[], state?: OptimizerState): void {
    this.layers.forEach((l, i) => {
      const s = state?.layers[i];
      const whole = [params[i].weights, params[i].bias, ...(s ? [...s.weights, ...s.bias] : [])];
      this.tensors(l)
        .slice(0, whole.length)
        .forEach((t, k) => {
          const rows = t.wide ? l.inSize : 1;
          l.blocks.forEach((block, j) => {
            const data = sliceColumns(whole[k], rows, l.units, block.col0, block.cols);
            this.ctx.device.queue.writeBuffer(t.buffers[j], 0, data.buffer, data.byteOffset, data.byteLength);
          });
        });
    });
  }
}
