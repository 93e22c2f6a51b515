// The form in the left column: typed access to its inputs, the per-dataset presets, and checks that
// turn a bad entry into a note next to it rather than an exception.
import type { Activation } from '../src/index';
import type { BackendChoice } from './backends';
import type { DatasetName } from './datasets';
import { el } from './dom';
import type { NetConfig } from './session';

export const controls = {
  dataset: el<HTMLSelectElement>('dataset'),
  noise: el<HTMLInputElement>('noise'),
  noiseValue: el<HTMLOutputElement>('noise-value'),
  hidden: el<HTMLInputElement>('hidden'),
  activation: el<HTMLSelectElement>('activation'),
  loss: el<HTMLSelectElement>('loss'),
  optimizer: el<HTMLSelectElement>('optimizer'),
  learningRate: el<HTMLInputElement>('learning-rate'),
  batchSize: el<HTMLInputElement>('batch-size'),
  epochs: el<HTMLInputElement>('epochs'),
  backend: el<HTMLSelectElement>('backend'),
  seed: el<HTMLInputElement>('seed'),
  start: el<HTMLButtonElement>('start'),
  pause: el<HTMLButtonElement>('pause'),
  reset: el<HTMLButtonElement>('reset'),
  save: el<HTMLButtonElement>('save'),
  load: el<HTMLButtonElement>('load'),
  loadFile: el<HTMLInputElement>('load-file'),
  summary: el('net-summary'),
};

interface Preset {
  hidden: string;
  activation: Activation;
  loss: NetConfig['loss'];
  optimizer: NetConfig['optimizer'];
  learningRate: number;
  batchSize: number;
  epochs: number;
}

/** Settings that train each set well in well under a minute, even on a software GPU. */
export const PRESETS: Record<DatasetName, Preset> = {
  xor: {
    hidden: '8,8',
    activation: 'relu',
    loss: 'crossEntropy',
    optimizer: 'adam',
    learningRate: 0.03,
    batchSize: 32,
    epochs: 100,
  },
  spiral: {
    hidden: '32,32',
    activation: 'relu',
    loss: 'crossEntropy',
    optimizer: 'adam',
    learningRate: 0.01,
    batchSize: 32,
    epochs: 300,
  },
  circles: {
    hidden: '8,8',
    activation: 'relu',
    loss: 'crossEntropy',
    optimizer: 'adam',
    learningRate: 0.03,
    batchSize: 32,
    epochs: 100,
  },
  digits: {
    hidden: '64',
    activation: 'relu',
    loss: 'crossEntropy',
    optimizer: 'adam',
    learningRate: 0.003,
    batchSize: 64,
    epochs: 10,
  },
};

export function applyPreset(name: DatasetName): void {
  const p = PRESETS[name];
  controls.hidden.value = p.hidden;
  controls.activation.value = p.activation;
  controls.loss.value = p.loss;
  controls.optimizer.value = p.optimizer;
  controls.learningRate.value = String(p.learningRate);
  controls.batchSize.value = String(p.batchSize);
  controls.epochs.value = String(p.epochs);
  controls.hidden.classList.remove('invalid');
}

/**
 * Settings from the page's address, e.g. `?dataset=digits&hidden=128,64&backend=cpu`: the dataset's
 * preset first, then each named control. Unknown names and values the form does not offer are ignored.
 */
export function applyQuery(search: string): void {
  const q = new URLSearchParams(search);
  const set = (input: HTMLInputElement | HTMLSelectElement, name: string) => {
    const v = q.get(name);
    if (v === null) return;
    if (input instanceof HTMLSelectElement && ![...input.options].some((o) => o.value === v && !o.disabled)) return;
    input.value = v;
  };
  set(controls.dataset, 'dataset');
  applyPreset(controls.dataset.value as DatasetName);
  set(controls.noise, 'noise');
  controls.noiseValue.textContent = Number(controls.noise.value).toFixed(2);
  for (const [name, input] of [
    ['hidden', controls.hidden],
    ['activation', controls.activation],
    ['loss', controls.loss],
    ['optimizer', controls.optimizer],
    ['lr', controls.learningRate],
    ['batch', controls.batchSize],
    ['epochs', controls.epochs],
    ['backend', controls.backend],
    ['seed', controls.seed],
  ] as const)
    set(input, name);
}

/** Hidden layer sizes from text like "64, 64"; an empty text means no hidden layer. */
export function parseHidden(text: string): number[] | string {
  const parts = text.split(/[,\s]+/).filter((s) => s.length > 0);
  const units = parts.map(Number);
  const bad = parts.find((_, i) => !Number.isInteger(units[i]) || units[i] < 1 || units[i] > 4096);
  if (bad !== undefined) return `"${bad}" is not a layer size: use whole numbers from 1 to 4096, e.g. 64,64`;
  if (units.length > 8) return 'at most 8 hidden layers';
  return units;
}

function positiveNumber(input: HTMLInputElement, integer: boolean): number | null {
  const v = Number(input.value);
  const ok = input.value.trim() !== '' && Number.isFinite(v) && v > 0 && (!integer || Number.isInteger(v));
  input.classList.toggle('invalid', !ok);
  return ok ? v : null;
}

export const readLearningRate = () => positiveNumber(controls.learningRate, false);
export const readBatchSize = () => positiveNumber(controls.batchSize, true);
export const readEpochs = () => positiveNumber(controls.epochs, true);

export function readSeed(): number {
  const v = Math.trunc(Number(controls.seed.value));
  return Number.isFinite(v) ? v : 1;
}

export const readNoise = () => Number(controls.noise.value);
export const readDataset = () => controls.dataset.value as DatasetName;
export const readBackend = () => controls.backend.value as BackendChoice;

/** The network settings, or a message that says what to fix. */
export function readNetConfig(): NetConfig | string {
  const hidden = parseHidden(controls.hidden.value);
  controls.hidden.classList.toggle('invalid', typeof hidden === 'string');
  if (typeof hidden === 'string') return `Hidden layers: ${hidden}.`;
  const learningRate = readLearningRate();
  if (learningRate === null) return 'Learning rate: enter a number above 0, e.g. 0.01.';
  return {
    hidden,
    activation: controls.activation.value as Activation,
    loss: controls.loss.value as NetConfig['loss'],
    optimizer: controls.optimizer.value as NetConfig['optimizer'],
    learningRate,
    seed: readSeed(),
  };
}

/** Sets the network inputs to a saved network's (when a file is loaded), without firing change events. */
export function showNetConfig(c: {
  hidden: number[];
  activation: Activation;
  loss: NetConfig['loss'];
  optimizer: string;
  learningRate: number;
  seed: number;
}): void {
  controls.hidden.value = c.hidden.join(',');
  controls.activation.value = c.activation;
  controls.loss.value = c.loss;
  controls.optimizer.value = c.optimizer;
  controls.learningRate.value = String(c.learningRate);
  controls.seed.value = String(c.seed);
  for (const input of [controls.hidden, controls.learningRate]) input.classList.remove('invalid');
}
