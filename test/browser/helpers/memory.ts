// Training under forced memory limits (the public maxStorageBufferBindingSize and memoryBudget options)
// against the same training without them: sharded and streamed training sets, micro-batches, chunked
// inference.
import * as WB from '../../../src/index';
import { allclose, type Tolerance } from '../../allclose';
import { counters } from './counters';
import { classes, dataset } from './data';
import { flatWeights } from './training';

export interface LimitedRun {
  spec: WB.NetworkSpec;
  samples: number;
  epochs: number;
  batchSize: number;
  /** Options of the constrained backend. */
  limits: WB.BackendOptions;
  /** fit() options of the constrained run (e.g. stream, microBatchSize). */
  fitOptions?: Partial<WB.FitOptions>;
  /** Weights compared with this tolerance; omitted: bit for bit. */
  weightTol?: Tolerance;
}

/**
 * The same fit on a backend without limits and on one with `limits`: the plans both chose, whether the
 * epoch losses and final weights agree (bit for bit unless weightTol is given), GPU objects made and
 * maps started during the constrained run's later epochs, and predict/evaluate compared under the limits.
 */
export async function fitUnderLimits(run: LimitedRun) {
  const out = run.spec.layers[run.spec.layers.length - 1].units;
  const { x, y } = (run.spec.loss === 'crossEntropy' ? classes : dataset)(run.samples, run.spec.inputSize, out, 17);
  const options = { epochs: run.epochs, batchSize: run.batchSize, seed: 3 };
  const free = await WB.createBackend('webgpu', { autotune: false });
  const tight = await WB.createBackend('webgpu', { autotune: false, ...run.limits });
  try {
    const reference = new WB.Network(free, run.spec);
    const a = await reference.fit(x, y, options);
    const net = new WB.Network(tight, run.spec);
    const planned = net.planFit({ samples: run.samples, batchSize: run.batchSize, ...run.fitOptions });
    const marks: { made: number; bindGroups: number; maps: number }[] = [];
    const b = await net.fit(x, y, {
      ...options,
      ...run.fitOptions,
      onEpochEnd: () => {
        marks.push({
          made: counters.buffersCreated,
          bindGroups: counters.bindGroupsCreated,
          maps: counters.mapAsyncCalls,
        });
      },
    });
    const exact = { rtol: 0, atol: 0 };
    const result = {
      reference: a.plan,
      plan: b.plan,
      planned,
      losses: allclose(b.loss, a.loss, run.weightTol ? { rtol: 1e-4, atol: 0 } : exact),
      weights: allclose(await flatWeights(net), await flatWeights(reference), run.weightTol ?? exact),
      marks,
      predict: allclose(await net.predict(x), await reference.predict(x), exact),
      evaluate: [await net.evaluate(x, y), await reference.evaluate(x, y)],
    };
    reference.destroy();
    net.destroy();
    return result;
  } finally {
    free.destroy();
    tight.destroy();
  }
}
