// What the page exposes to tests and to curious users in the console: window.demoState, a plain
// object kept up to date as the page changes, and window.demoProbe(), the network's outputs for the
// first test rows. Tests poll these (page.waitForFunction) instead of guessing at timings.
import type { BackendKind } from '../src/index';
import type { DatasetName } from './datasets';

export interface DemoState {
  /** True once the first network is built and drawn. */
  ready: boolean;
  status: 'starting' | 'loading' | 'ready' | 'training' | 'paused' | 'done' | 'error';
  dataset: DatasetName | null;
  backend: BackendKind | null;
  /** Null when WebGPU works; otherwise why not (the banner says the same). */
  webgpuUnavailable: string | null;
  /** Completed epochs of the current network. */
  epoch: number;
  steps: number;
  trainLoss: number | null;
  testLoss: number | null;
  trainAcc: number | null;
  testAcc: number | null;
  stepsPerSec: number | null;
  samplesPerSec: number | null;
  /** Train loss of every completed epoch of the current network. */
  lossHistory: number[];
  /** Test (validation) loss and accuracy of every completed epoch, from fit's history. */
  testLossHistory: number[];
  testAccHistory: number[];
  /** How many times the views were redrawn from a fresh evaluation. */
  evaluations: number;
  /** How many weight files were loaded, and the latest file's name. */
  loads: number;
  loadedFrom: string | null;
  /** The last error shown in the page, if any. */
  error: string | null;
}

/** The fields that describe one network's training, as they are before its first epoch. */
export function freshRun() {
  return {
    epoch: 0,
    steps: 0,
    trainLoss: null,
    testLoss: null,
    trainAcc: null,
    testAcc: null,
    stepsPerSec: null,
    samplesPerSec: null,
    lossHistory: [],
    testLossHistory: [],
    testAccHistory: [],
  } satisfies Partial<DemoState>;
}

export const demoState: DemoState = {
  ready: false,
  status: 'starting',
  dataset: null,
  backend: null,
  webgpuUnavailable: null,
  ...freshRun(),
  evaluations: 0,
  loads: 0,
  loadedFrom: null,
  error: null,
};

declare global {
  interface Window {
    demoState: DemoState;
    /** Outputs (rows × classes, flattened) of the current network for the first `rows` test rows. */
    demoProbe(rows?: number): Promise<number[]>;
  }
}
