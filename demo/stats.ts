// The page's figures under the chart (epoch, losses, accuracies, speed), from demoState.
import { el } from './dom';
import { demoState } from './state';

const fmt = (v: number | null, digits = 4) =>
  v === null ? '–' : v < 1e-3 ? v.toExponential(2) : v.toPrecision(digits);
export const pct = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)} %`);
const rate = (v: number | null) =>
  v === null ? '–' : v >= 1e4 ? `${(v / 1000).toFixed(0)}k` : v >= 100 ? v.toFixed(0) : v.toFixed(1);

/** Writes demoState's current figures into the stat cells. */
export function showStats(): void {
  const s = demoState;
  el('stat-epoch').textContent = String(s.epoch);
  el('stat-train-loss').textContent = fmt(s.trainLoss);
  el('stat-test-loss').textContent = fmt(s.testLoss);
  el('stat-train-acc').textContent = pct(s.trainAcc);
  el('stat-test-acc').textContent = pct(s.testAcc);
  el('stat-steps').textContent = rate(s.stepsPerSec);
  el('stat-samples').textContent = rate(s.samplesPerSec);
}
