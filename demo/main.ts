// The demo page: wires the form to a training Session and draws what it reports. Every action that
// changes the network runs through act(), one at a time, so a click never lands between the steps of
// another (Pause alone skips the queue: it only raises the abort signal of the running fit()).
import { BackpropError, Network, type Backend } from '../src/index';
import { type BackendChoice, backendName, deviceLine, openAuto, openBackends } from './backends';
import { LossChart, COLORS } from './chart';
import {
  applyPreset,
  applyQuery,
  controls,
  readBackend,
  readBatchSize,
  readDataset,
  readEpochs,
  readLearningRate,
  readNetConfig,
  readNoise,
  readSeed,
  showNetConfig,
} from './controls';
import { DATASETS, DIGITS_SOURCE, generate2d, type Dataset } from './datasets';
import { confusion, DigitStrips, renderConfusion } from './digitsview';
import { el, query } from './dom';
import { download, readSavedNetwork, UserError } from './files';
import { CLASS_RGB, DecisionMap } from './map2d';
import { buildSpec, Session, yieldToPage, type EpochReport, type Evaluation } from './session';
import { demoState, freshRun } from './state';
import { pct, showStats } from './stats';

/** Evaluations (and redraws) run at most this often, and take at most a quarter of the time. */
const EVAL_INTERVAL_MS = 300;
/** …but at least this often (the first evaluation, which compiles shaders, is not typical). */
const EVAL_MAX_INTERVAL_MS = 1500;

const backends = new Map<BackendChoice, Backend>();

/** The backend of a selector choice; 'auto' is opened (and measured) the first time it is chosen. */
async function backendFor(choice: BackendChoice): Promise<Backend> {
  let backend = backends.get(choice);
  if (!backend && choice === 'auto') {
    setStatus('auto: timing a training step on WebGPU and on wasm (the first time on this machine)…', 'loading');
    backend = await openAuto((e) => showError(e));
    backends.set('auto', backend);
  }
  if (!backend) throw new UserError(`The ${choice} backend is not available here.`);
  return backend;
}

const chart = new LossChart(el('chart'), 290);
const strips = new DigitStrips(el('digit-strip'), el('digit-mistakes'), 20, 10);
let data: Dataset | undefined;
let map: DecisionMap | undefined;
let session: Session | undefined;
let lastEval = { at: 0, ms: 0 };
let chain: Promise<void> = Promise.resolve();

window.demoState = demoState;
window.demoProbe = async (rows = 16) => {
  if (!session || !data) return [];
  const n = Math.min(rows, data.test.rows) * data.inputSize;
  return Array.from(await session.net.predict(data.test.x.subarray(0, n)));
};

function act(what: () => Promise<void>): Promise<void> {
  chain = chain.then(what).catch(showError).finally(updateButtons);
  return chain;
}

function setStatus(text: string, status?: typeof demoState.status): void {
  const s = el('status');
  s.textContent = text;
  s.classList.toggle('error', status === 'error');
  if (status) demoState.status = status;
}

function showError(e: unknown): void {
  const message = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  if (!(e instanceof UserError)) console.error(e); // a fault of the page or the library: make it loud
  demoState.error = message;
  setStatus(message, 'error');
}

function updateButtons(): void {
  const training = session?.training ?? false;
  controls.start.disabled = !session || training;
  controls.pause.disabled = !training;
  controls.reset.disabled = !session;
  controls.save.disabled = !session;
  controls.load.disabled = !data;
}

// ---- backends -------------------------------------------------------------------------------------

/** Opens the backends (see backends.ts); without WebGPU, shows the banner and selects the CPU. */
async function setUpBackends(): Promise<void> {
  const opened = await openBackends(location.search, (e) => showError(e));
  for (const [kind, backend] of opened.backends) backends.set(kind, backend);
  const reason = opened.webgpuUnavailable;
  demoState.webgpuUnavailable = reason;
  const webgpuOption = query<HTMLOptionElement>('option[value="webgpu"]', controls.backend);
  if (reason !== null) {
    const banner = el('webgpu-banner');
    banner.replaceChildren(
      Object.assign(document.createElement('b'), { textContent: 'WebGPU is not available here: ' }),
      `${reason}. Training runs on the WebAssembly backend instead (the same network API on the CPU's SIMD ` +
        'units, in threads where it can). ' +
        'WebGPU needs Chrome or Edge 113+ (or another browser with WebGPU enabled) and a secure context ' +
        '(https or localhost).',
    );
    banner.hidden = false;
    webgpuOption.disabled = true;
    webgpuOption.textContent = 'WebGPU (unavailable)';
    controls.backend.value = backends.has('wasm') ? 'wasm' : 'cpu';
  }
  for (const option of controls.backend.options) {
    if (option.value !== 'auto' && !backends.has(option.value as BackendChoice)) option.disabled = true;
  }
  showDevice();
}

/** Names the backend the network is on (or will be, before there is one) in the header. */
function showDevice(): void {
  const backend = session?.backend ?? backends.get(readBackend());
  el('device').textContent = deviceLine(backend, demoState.webgpuUnavailable);
  demoState.backend = backend?.kind ?? 'cpu';
}

// ---- data and network -----------------------------------------------------------------------------

async function loadData(): Promise<void> {
  const name = readDataset();
  const seed = readSeed();
  el('noise-row').hidden = name === 'digits';
  if (name === 'digits') {
    setStatus('Loading 10,000 handwritten digits (about 20 MB, once)…', 'loading');
    const { loadDigits } = await import('./digits'); // the digits' code and data load only now
    data = await loadDigits(seed);
  } else {
    data = generate2d(name, readNoise(), seed);
  }
  demoState.dataset = name;
  const is2d = data.kind === '2d';
  el('view-2d').hidden = !is2d;
  el('view-digits').hidden = is2d;
  el('strips').hidden = is2d;
  el('train-acc-label').textContent = is2d ? 'Train accuracy' : 'Train acc. (2,000)';
  map = is2d ? new DecisionMap(el<HTMLCanvasElement>('map'), data.extent) : undefined;
  if (is2d) {
    const swatches = CLASS_RGB.slice(0, data.classes)
      .map(([r, g, b], k) => `<i style="background: rgb(${r} ${g} ${b})"></i>class ${k}`)
      .join('');
    el('map-legend').innerHTML = `${swatches}<span style="margin-left: 14px">● train · ○ test</span>`;
  } else {
    strips.reset(data.test);
    el('confusion').replaceChildren();
  }
  el('data-note').textContent =
    `${DATASETS[name].label}: ${data.train.rows.toLocaleString('en')} training and ` +
    `${data.test.rows.toLocaleString('en')} test samples (no overlap), one-hot targets, ${data.classes} classes.`;
}

/** A fresh network from the form's settings on the chosen backend (the previous one is discarded). */
async function rebuild(): Promise<void> {
  await session?.pause();
  if (!data) return;
  const config = readNetConfig();
  if (typeof config === 'string') {
    if (session && session.data !== data) {
      session.destroy(); // it was trained on other data: nothing left to show or resume
      session = undefined;
    }
    throw new UserError(config);
  }
  const net = new Network(await backendFor(readBackend()), buildSpec(config, data));
  adopt(net);
  if (net.backend.kind === 'webgpu')
    setStatus('Building the network (the first time, WebGPU compiles, and may tune, its kernels)…', 'loading');
  await refresh();
  setStatus(`Ready: ${describeNet()}. Press Start.`, 'ready');
}

function adopt(net: Network): void {
  if (!data) throw new Error('demo: a network was built before any data was loaded');
  session?.destroy();
  session = new Session(net, data, map?.grid ?? null);
  chart.clear();
  Object.assign(demoState, { ...freshRun(), error: null });
  controls.summary.textContent = describeNet();
  showDevice();
  showStats();
}

function describeNet(): string {
  if (!session) return '';
  const net = session.net;
  const sizes = [net.inputSize, ...net.layers.map((l) => l.units)].join('→');
  const params = net.layers.reduce(
    (sum, l, i) => sum + ((i === 0 ? net.inputSize : net.layers[i - 1].units) + 1) * l.units,
    0,
  );
  const where = backendName(net.backend);
  return `${sizes} (${params.toLocaleString('en')} weights), ${net.optimizer.type} on ${where}`;
}

// ---- views ----------------------------------------------------------------------------------------

/** Evaluates the network and redraws the views from it. */
async function refresh(): Promise<Evaluation> {
  if (!session) throw new Error('demo: refresh() with no network built');
  const ev = await session.evaluate();
  lastEval = { at: performance.now(), ms: ev.ms };
  Object.assign(demoState, { trainAcc: ev.trainAcc, testAcc: ev.testAcc, testLoss: ev.testLoss });
  if (map && data) map.draw(ev.gridOutputs, data.classes, data.train, data.test);
  if (data?.kind === 'digits') {
    renderConfusion(el('confusion'), confusion(ev.testOutputs, data.test, data.classes));
    strips.update(data.test, ev.testOutputs);
  }
  demoState.evaluations++;
  showStats();
  return ev;
}

async function onEpoch(s: Session, r: EpochReport): Promise<void> {
  Object.assign(demoState, {
    epoch: r.epoch,
    steps: s.steps,
    stepsPerSec: r.stepsPerSec,
    samplesPerSec: r.samplesPerSec,
  });
  if (r.complete) {
    // The test curves come from fit's validation history: measured on the backend at each epoch's end.
    Object.assign(demoState, { trainLoss: r.loss, testLoss: r.testLoss ?? null, testAcc: r.testAcc ?? null });
    demoState.lossHistory.push(r.loss);
    if (r.testLoss !== undefined) demoState.testLossHistory.push(r.testLoss);
    if (r.testAcc !== undefined) demoState.testAccHistory.push(r.testAcc);
    chart.push(r.epoch, r.loss, r.testLoss ?? null, r.testAcc ?? null);
  }
  if (performance.now() - lastEval.at >= Math.min(EVAL_MAX_INTERVAL_MS, Math.max(EVAL_INTERVAL_MS, 3 * lastEval.ms))) {
    await refresh();
    await yieldToPage(); // let the page paint
  }
  showStats();
}

// ---- actions --------------------------------------------------------------------------------------

function start(): void {
  if (!session || session.training || !data) return;
  const batch = readBatchSize();
  const epochs = readEpochs();
  if (batch === null || epochs === null) {
    showError(new UserError('Batch size and epochs must be whole numbers above 0.'));
    return;
  }
  const batchSize = Math.min(batch, data.train.rows);
  const untilEpoch = session.epoch >= epochs ? session.epoch + epochs : epochs;
  const s = session;
  setStatus(`Training ${describeNet()}, batch ${batchSize}, up to epoch ${untilEpoch}…`, 'training');
  demoState.error = null;
  void s
    .start({
      batchSize,
      untilEpoch,
      onEpoch: (r) => onEpoch(s, r),
      onStop: async (error) => {
        try {
          if (error) throw error;
          const ev = await refresh();
          const done = s.epoch >= untilEpoch;
          setStatus(
            `${done ? 'Done' : 'Paused'} after ${s.epoch} epochs (${s.steps.toLocaleString('en')} steps): ` +
              `test accuracy ${pct(ev.testAcc)}.${done ? ' Start trains further.' : ' Start resumes.'}`,
            done ? 'done' : 'paused',
          );
        } catch (e) {
          showError(e);
        }
      },
    })
    .then(updateButtons);
  updateButtons();
}

/** Runs `f` with training paused, then resumes it if it was running. */
async function whilePaused(f: () => Promise<void>): Promise<void> {
  const wasTraining = session?.training ?? false;
  await session?.pause();
  await f();
  if (wasTraining) start();
}

async function save(): Promise<void> {
  if (!session) return;
  const shape = session.net.layers.map((l) => l.units).join('x');
  const name = `webgpu-backprop-${demoState.dataset}-${shape}-epoch${session.epoch}.json`;
  download(name, await session.toJSON());
  if (!session.training) setStatus(`Saved ${name}.`);
}

async function load(file: File): Promise<void> {
  const { json, dataset: name } = await readSavedNetwork(file, readDataset());
  await session?.pause();
  let net: Network;
  try {
    net = Network.fromJSON(await backendFor(readBackend()), json);
  } catch (e) {
    // A file that is wrong or too big for this machine: the library's error says why, in the page.
    if (e instanceof BackpropError) throw new UserError(`${file.name}: ${e.name}: ${e.message}`);
    throw e;
  }
  showNetConfig({
    hidden: net.layers.slice(0, -1).map((l) => l.units),
    activation: net.layers[0].activation,
    loss: net.loss,
    optimizer: net.optimizer.type,
    learningRate: net.optimizer.learningRate,
    seed: net.seed,
  });
  if (name !== readDataset()) controls.dataset.value = name;
  try {
    await loadData(); // the seed may have changed the data
  } catch (e) {
    net.destroy();
    throw e;
  }
  adopt(net);
  await refresh();
  demoState.loads++;
  demoState.loadedFrom = file.name;
  setStatus(`Loaded ${file.name}: ${describeNet()}. Start trains it further.`, 'ready');
}

// ---- wiring ---------------------------------------------------------------------------------------

const rebuildOnChange = (input: HTMLElement, reload: boolean) =>
  input.addEventListener('change', () =>
    act(async () => {
      await session?.pause();
      if (reload) await loadData();
      await rebuild();
    }),
  );

// The preset applies first (listeners run in order), then the queued reload reads it.
controls.dataset.addEventListener('change', () => applyPreset(readDataset()));
rebuildOnChange(controls.dataset, true);
controls.noise.addEventListener('input', () => (controls.noiseValue.textContent = readNoise().toFixed(2)));
rebuildOnChange(controls.noise, true);
rebuildOnChange(controls.seed, true);
rebuildOnChange(controls.hidden, false);
rebuildOnChange(controls.activation, false);
rebuildOnChange(controls.loss, false);
rebuildOnChange(controls.optimizer, false);
controls.learningRate.addEventListener('input', () => {
  const lr = readLearningRate();
  if (lr !== null && session) session.net.setLearningRate(lr); // applies from the next step, even mid-run
});
for (const input of [controls.batchSize, controls.epochs]) {
  input.addEventListener('change', () => act(() => whilePaused(async () => {})));
}
controls.backend.addEventListener('change', () =>
  act(async () => {
    const target = await backendFor(readBackend());
    const current = session;
    if (!current || current.backend === target) return;
    await whilePaused(async () => {
      await current.moveTo(target);
      showDevice();
      controls.summary.textContent = describeNet();
      setStatus(`Moved the network to ${backendName(target)} with its weights and optimizer state.`);
    });
  }),
);
controls.start.addEventListener('click', () => act(async () => start()));
controls.pause.addEventListener('click', () => void session?.pause());
controls.reset.addEventListener('click', () => act(rebuild));
controls.save.addEventListener('click', () => act(save));
controls.load.addEventListener('click', () => controls.loadFile.click());
controls.loadFile.addEventListener('change', () => {
  const file = controls.loadFile.files?.[0];
  controls.loadFile.value = ''; // the same file may be loaded again
  if (file) void act(() => load(file));
});
el('controls').addEventListener('submit', (e) => e.preventDefault());

el('sources').innerHTML =
  `Data: the 2-D sets are generated in the page from the seed. Digits: ${DIGITS_SOURCE}, ` +
  'loaded only when chosen and split 80/20 per digit into training and test images. ' +
  `Chart: <a href="https://github.com/leeoniya/uPlot">uPlot</a>. Library: webgpu-backprop (MIT). ` +
  `Loss chart colours: <span style="color:${COLORS.train}">train</span>, ` +
  `<span style="color:${COLORS.test}">test</span>.`;

updateButtons();
void act(async () => {
  applyQuery(location.search);
  await setUpBackends();
  await loadData();
  await rebuild();
  demoState.ready = true;
});
