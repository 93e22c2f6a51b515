// The live loss chart: train and test MSE per epoch on a log scale, and test accuracy on a second
// axis, drawn with uPlot (a small, canvas-based chart library). It only draws what it is given; the
// page decides when a point is added.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const COLORS = { train: '#2563eb', test: '#ea580c', accuracy: '#16a34a' };

export class LossChart {
  private readonly plot: uPlot;
  private readonly data: [number[], (number | null)[], (number | null)[], (number | null)[]] = [[], [], [], []];
  private readonly resize: ResizeObserver;
  private pending = false;

  constructor(
    private readonly el: HTMLElement,
    height = 260,
  ) {
    const axis = { stroke: '#475569', grid: { stroke: '#e2e8f0', width: 1 }, ticks: { stroke: '#cbd5e1', width: 1 } };
    this.plot = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height,
        cursor: { drag: { x: false, y: false } },
        legend: { live: false },
        scales: {
          x: { time: false },
          loss: { distr: 3 },
          acc: { range: [0, 100] },
        },
        series: [
          { label: 'epoch' },
          { label: 'train loss', scale: 'loss', stroke: COLORS.train, width: 2, value: fmtLoss },
          { label: 'test loss', scale: 'loss', stroke: COLORS.test, width: 2, spanGaps: true, value: fmtLoss },
          {
            label: 'test accuracy',
            scale: 'acc',
            stroke: COLORS.accuracy,
            width: 1.5,
            dash: [6, 4],
            spanGaps: true,
            value: (_u, v) => (v == null ? '–' : `${v.toFixed(1)} %`),
          },
        ],
        axes: [
          // Whole epochs only.
          { ...axis, label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] },
          { ...axis, scale: 'loss', label: 'MSE loss (log)', size: 64, values: (_u, ticks) => ticks.map(fmtTick) },
          { ...axis, scale: 'acc', side: 1, label: 'test accuracy %', grid: { show: false }, size: 50 },
        ],
      },
      this.data,
      el,
    );
    this.resize = new ResizeObserver(() => this.plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    this.resize.observe(el);
  }

  /** Adds one epoch; test values may be null when they were not measured at that epoch. */
  push(epoch: number, trainLoss: number, testLoss: number | null, testAccuracy: number | null): void {
    const [x, train, test, acc] = this.data;
    x.push(epoch);
    train.push(positive(trainLoss));
    test.push(testLoss === null ? null : positive(testLoss));
    acc.push(testAccuracy === null ? null : testAccuracy * 100);
    this.redrawSoon();
  }

  /** Fills in the test values of the latest epoch (measured after it was pushed). */
  setLatestTest(testLoss: number, testAccuracy: number): void {
    const n = this.data[0].length;
    if (n === 0) return;
    this.data[2][n - 1] = positive(testLoss);
    this.data[3][n - 1] = testAccuracy * 100;
    this.redrawSoon();
  }

  clear(): void {
    for (const column of this.data) column.length = 0;
    this.plot.setData(this.data);
  }

  get points(): number {
    return this.data[0].length;
  }

  /** Coalesces many epochs per animation frame: redrawing costs more than a short epoch. */
  private redrawSoon(): void {
    if (this.pending) return;
    this.pending = true;
    const draw = () => {
      this.pending = false;
      this.plot.setData(this.data);
    };
    // rAF does not run in background tabs; the timeout keeps the chart current there.
    const timer = setTimeout(draw, 100);
    requestAnimationFrame(() => {
      clearTimeout(timer);
      if (this.pending) draw();
    });
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot.destroy();
    this.el.replaceChildren();
  }
}

/** The log scale cannot show 0; a loss of exactly 0 is drawn at the floor. */
function positive(v: number): number {
  return Math.max(v, 1e-9);
}

function fmtLoss(_u: uPlot, v: number | null): string {
  return v == null ? '–' : v.toPrecision(3);
}

/** Log-scale tick labels; uPlot passes null for ticks it has thinned out. */
function fmtTick(v: number | null): string {
  if (v == null) return '';
  return v >= 0.01 ? String(+v.toPrecision(2)) : v.toExponential(0);
}
