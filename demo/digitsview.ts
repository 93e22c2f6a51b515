// The digits views: a confusion matrix of the test set (rows: true digit, columns: predicted) and strips
// of test digits with the network's answer under each, wrong answers marked in red.
import { argmax, DIGIT_SIZE, type Split } from './datasets';
import { context2d } from './dom';

const PIXELS = DIGIT_SIZE * DIGIT_SIZE;

/** counts[true][predicted] over the rows of `split`, from the network's outputs for those rows. */
export function confusion(outputs: Float32Array, split: Split, classes: number): number[][] {
  const counts = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < split.rows; i++) counts[split.labels[i]][argmax(outputs, i * classes, classes)]++;
  return counts;
}

/** Renders the matrix as a table; a cell's shade is its share of the true digit's row. */
export function renderConfusion(el: HTMLElement, counts: number[][]): void {
  const k = counts.length;
  const table = document.createElement('table');
  table.className = 'confusion';
  const head = table.createTHead().insertRow();
  head.appendChild(cell('th', 'true ↓ / predicted →', 'corner'));
  for (let j = 0; j < k; j++) head.appendChild(cell('th', String(j)));
  const body = table.createTBody();
  counts.forEach((row, i) => {
    const tr = body.insertRow();
    tr.appendChild(cell('th', String(i)));
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((n, j) => {
      const share = n / total;
      const td = cell('td', n === 0 ? '' : String(n));
      // Correct answers in blue, confusions in red; the strength is the share of the row.
      td.style.background =
        i === j ? `rgb(37 99 235 / ${share * 0.85})` : `rgb(220 38 38 / ${Math.min(1, share * 4) * 0.8})`;
      if ((i === j && share > 0.55) || (i !== j && share > 0.12)) td.style.color = '#fff';
      td.title = `true ${i}, predicted ${j}: ${n} of ${total} (${(share * 100).toFixed(1)} %)`;
      tr.appendChild(td);
    });
  });
  el.replaceChildren(table);
}

function cell(tag: 'th' | 'td', text: string, className?: string): HTMLTableCellElement {
  const c = document.createElement(tag);
  c.textContent = text;
  if (className) c.className = className;
  return c;
}

/** Draws test row `row` (grey levels in [0, 1], white on black in MNIST) as dark ink on white. */
function drawDigit(canvas: HTMLCanvasElement, split: Split, row: number): void {
  canvas.width = canvas.height = DIGIT_SIZE;
  const ctx = context2d(canvas);
  const image = ctx.createImageData(DIGIT_SIZE, DIGIT_SIZE);
  for (let p = 0; p < PIXELS; p++) {
    const v = 255 - Math.round(255 * split.x[row * PIXELS + p]);
    image.data.set([v, v, v, 255], p * 4);
  }
  ctx.putImageData(image, 0, 0);
}

/** A figure with the digit and a caption that says what the network answered. */
function figure(split: Split, row: number): { fig: HTMLElement; caption: HTMLElement } {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  drawDigit(canvas, split, row);
  const caption = document.createElement('figcaption');
  caption.textContent = '·';
  fig.append(canvas, caption);
  return { fig, caption };
}

function label(fig: HTMLElement, caption: HTMLElement, predicted: number, truth: number): void {
  const wrong = predicted !== truth;
  fig.classList.toggle('wrong', wrong);
  caption.textContent = wrong ? `${predicted} ✗` : String(predicted);
  fig.title = wrong ? `predicted ${predicted}, but it is a ${truth}` : `predicted ${predicted} (correct)`;
}

/**
 * The first `count` test digits (the same ones all along, so their labels can be watched turning
 * right) and, below, up to `mistakes` test digits the network currently gets wrong.
 */
export class DigitStrips {
  private fixed: { fig: HTMLElement; caption: HTMLElement }[] = [];

  constructor(
    private readonly strip: HTMLElement,
    private readonly wrongStrip: HTMLElement,
    private readonly count = 24,
    private readonly mistakes = 12,
  ) {}

  /** Draws the fixed strip's digits for a (new) test set, unlabelled. */
  reset(test: Split): void {
    this.fixed = Array.from({ length: Math.min(this.count, test.rows) }, (_, i) => figure(test, i));
    this.strip.replaceChildren(...this.fixed.map((f) => f.fig));
    this.wrongStrip.replaceChildren();
  }

  /** Labels the digits with the network's outputs for the whole test set. */
  update(test: Split, outputs: Float32Array): void {
    this.fixed.forEach(({ fig, caption }, i) => {
      label(fig, caption, argmax(outputs, i * 10, 10), test.labels[i]);
    });
    const wrong: HTMLElement[] = [];
    for (let i = 0; i < test.rows && wrong.length < this.mistakes; i++) {
      const predicted = argmax(outputs, i * 10, 10);
      if (predicted === test.labels[i]) continue;
      const f = figure(test, i);
      label(f.fig, f.caption, predicted, test.labels[i]);
      wrong.push(f.fig);
    }
    this.wrongStrip.replaceChildren(...wrong);
  }
}
