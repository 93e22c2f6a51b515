// Saving a network from the demo and reading one back: the download, and the checks a chosen file must
// pass before the library sees it (JSON, and a shape that fits one of the page's data sets).
import { DATASETS, type DatasetName } from './datasets';

/** An error caused by what the user entered or loaded: shown in the page, not logged as a fault. */
export class UserError extends Error {}

/** Offers `value` as a JSON file named `name`. */
export function download(name: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value)], { type: 'application/json' }));
  Object.assign(document.createElement('a'), { href: url, download: name }).click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Which data set a saved network fits, by its input size and number of outputs; `current` first. */
function datasetFor(current: DatasetName, inputSize: unknown, outputs: unknown): DatasetName | null {
  const fits = (n: DatasetName) => DATASETS[n].inputSize === inputSize && DATASETS[n].classes === outputs;
  if (fits(current)) return current;
  return (Object.keys(DATASETS) as DatasetName[]).find(fits) ?? null;
}

/** A saved network's JSON and the data set it fits, or a UserError that says what is wrong with the file. */
export async function readSavedNetwork(file: File, current: DatasetName) {
  let json: { inputSize?: unknown; layers?: { units: number }[] };
  try {
    json = JSON.parse(await file.text());
  } catch (e) {
    throw new UserError(`${file.name} is not JSON: ${(e as Error).message}`);
  }
  const layers = Array.isArray(json.layers) ? json.layers : [];
  const outputs = layers[layers.length - 1]?.units;
  const dataset = datasetFor(current, json.inputSize, outputs);
  if (!dataset) {
    throw new UserError(
      `${file.name} does not fit any data set here: it has ${String(json.inputSize)} inputs and ` +
        `${String(outputs)} outputs (2→2 for XOR and circles, 2→3 for the spiral, 784→10 for digits).`,
    );
  }
  return { json, dataset };
}
