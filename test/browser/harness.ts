// Runs in the test page: exposes the library (window.WB) and the helpers the specs build their
// page.evaluate bodies from (window.T). counters.ts comes first: it wraps the WebGPU prototypes to
// count buffers and bind groups independently of the library's bookkeeping, before any device exists.
import { counters, liveBuffers, liveLabels, liveTextures } from './helpers/counters';
import { backendProperty, networkProperty } from './property';
import * as WB from '../../src/index';
import { compileShader } from '../../src/gpu/shaders';
import { requireWebGpu } from '../../src/testing/page';
import { DEFAULT_MATMUL_VARIANT, MATMUL_VARIANTS } from '../../src/gpu/matmul_variants';
import { allclose } from '../allclose';
import { accuracy, dataset, rand, spiral } from './helpers/data';
import {
  badInputLeavesWeights,
  destroyFreesEverything,
  fitAllocations,
  leakRounds,
  saveLoadAcrossBackends,
} from './helpers/lifecycle';
import { fuzzFilesOnGpu, hugeLayerOnGpu } from './helpers/files';
import { fitUnderLimits } from './helpers/memory';
import * as wasmChecks from '../shared/wasm_backend';
import { both, gpuBackend, gpuErrors, matmulVariant, subgroupMatmul, underTest, wasmBackend } from './helpers/ops';
import { backgroundTuning, timeOnGpu } from './helpers/tuning';
import {
  fitThroughDeviceLoss,
  flatWeights,
  networkParity,
  packedTexturesOverBudget,
  recoverAfterDeviceLoss,
} from './helpers/training';

const T = {
  rand,
  dataset,
  spiral,
  accuracy,
  allclose,
  properties: { backendProperty, networkProperty },
  compileShader,
  counters,
  liveBuffers,
  liveTextures,
  liveLabels,
  gpuBackend,
  wasmBackend,
  underTest,
  gpuErrors,
  subgroupMatmul,
  /** The matmul variants an autotuner may pick from, by name, and the one used without tuning. */
  matmulVariants: MATMUL_VARIANTS,
  matmulDefault: DEFAULT_MATMUL_VARIANT,
  both,
  matmulVariant,
  backgroundTuning,
  timeOnGpu,
  flatWeights,
  networkParity,
  fitThroughDeviceLoss,
  recoverAfterDeviceLoss,
  packedTexturesOverBudget,
  fitAllocations,
  saveLoadAcrossBackends,
  destroyFreesEverything,
  badInputLeavesWeights,
  fitUnderLimits,
  leakRounds,
  fuzzFilesOnGpu,
  hugeLayerOnGpu,
  requireWebGpu,
  /** The wasm backend's checks shared with the Node tests (test/shared/wasm_backend.ts). */
  wasmChecks,
};

declare global {
  interface Window {
    WB: typeof WB;
    T: typeof T;
  }
}
window.WB = WB;
window.T = T;
document.title = 'harness ready';
