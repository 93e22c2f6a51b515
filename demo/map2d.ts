// The decision map of a 2-D set: the network's prediction on a G×G grid over the data's square drawn as
// a soft coloured background (each class's colour weighted by its output, paler where the network is
// unsure), with the training points (filled) and test points (rings) on top.
import type { Split } from './datasets';
import { context2d } from './dom';

/** Class colours (orange, blue, green) as RGB. */
export const CLASS_RGB: [number, number, number][] = [
  [234, 88, 12],
  [37, 99, 235],
  [22, 163, 74],
];
const css = ([r, g, b]: [number, number, number]) => `rgb(${r} ${g} ${b})`;

export class DecisionMap {
  /** The grid's G×G input points, row-major from the top-left, ready for predict(). */
  readonly grid: Float32Array;
  private readonly cells: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(
    readonly canvas: HTMLCanvasElement,
    readonly extent: number,
    readonly size = 60,
  ) {
    this.grid = new Float32Array(size * size * 2);
    const step = (2 * extent) / size;
    for (let j = 0; j < size; j++) {
      for (let i = 0; i < size; i++) {
        this.grid[2 * (j * size + i)] = -extent + (i + 0.5) * step;
        this.grid[2 * (j * size + i) + 1] = extent - (j + 0.5) * step;
      }
    }
    this.cells = document.createElement('canvas');
    this.cells.width = this.cells.height = size;
    this.ctx = context2d(canvas);
  }

  /** Matches the canvas's backing store to its CSS size and the screen's pixel ratio. */
  private fit(): number {
    const px = Math.round(this.canvas.clientWidth * devicePixelRatio) || 400;
    if (this.canvas.width !== px) this.canvas.width = this.canvas.height = px;
    return px;
  }

  /** Draws the map (when `outputs`, the grid's predictions, are given) and the points. */
  draw(outputs: Float32Array | null, classes: number, train: Split, test: Split): void {
    const px = this.fit();
    const ctx = this.ctx;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, px, px);
    if (outputs) {
      const cells = context2d(this.cells);
      const image = cells.createImageData(this.size, this.size);
      for (let c = 0; c < this.size * this.size; c++) shade(outputs, c * classes, classes, image.data, c * 4);
      cells.putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(this.cells, 0, 0, px, px);
    }
    const scale = px / (2 * this.extent);
    const at = (v: number) => (v + this.extent) * scale;
    const r = Math.max(2.5, px / 130);
    ctx.lineWidth = Math.max(1, px / 400);
    for (let i = 0; i < train.rows; i++) {
      ctx.beginPath();
      ctx.arc(at(train.x[2 * i]), px - at(train.x[2 * i + 1]), r, 0, 2 * Math.PI);
      ctx.fillStyle = css(CLASS_RGB[train.labels[i]]);
      ctx.strokeStyle = '#fff';
      ctx.fill();
      ctx.stroke();
    }
    ctx.lineWidth = Math.max(1.5, px / 260);
    for (let i = 0; i < test.rows; i++) {
      ctx.beginPath();
      ctx.arc(at(test.x[2 * i]), px - at(test.x[2 * i + 1]), r, 0, 2 * Math.PI);
      ctx.fillStyle = '#fff';
      ctx.strokeStyle = css(CLASS_RGB[test.labels[i]]);
      ctx.fill();
      ctx.stroke();
    }
  }
}

/** One grid cell's colour: the class colours weighted by the outputs, mixed with white by confidence. */
function shade(out: Float32Array, o: number, k: number, rgba: Uint8ClampedArray, p: number): void {
  let sum = 0;
  let max = 0;
  for (let j = 0; j < k; j++) {
    const w = Math.min(1, Math.max(0, out[o + j]));
    sum += w;
    max = Math.max(max, w);
  }
  let r = 0;
  let g = 0;
  let b = 0;
  for (let j = 0; j < k; j++) {
    const w = sum > 1e-6 ? Math.min(1, Math.max(0, out[o + j])) / sum : 1 / k;
    r += w * CLASS_RGB[j][0];
    g += w * CLASS_RGB[j][1];
    b += w * CLASS_RGB[j][2];
  }
  // Confidence: how far the winning share is above a uniform guess, in [0, 1].
  const share = sum > 1e-6 ? max / sum : 1 / k;
  const alpha = 0.12 + 0.5 * Math.min(1, Math.max(0, (share - 1 / k) / (1 - 1 / k)));
  rgba[p] = 255 + (r - 255) * alpha;
  rgba[p + 1] = 255 + (g - 255) * alpha;
  rgba[p + 2] = 255 + (b - 255) * alpha;
  rgba[p + 3] = 255;
}
