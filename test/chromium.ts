// `npm run chromium`: says which Chromium the browser tests and the benchmark will launch, and why
// (src/testing/browser.ts); exits with status 1 and what to install when there is none. .ci/run uses it to
// decide whether its last resort, apt-get, is needed.
import { ChromiumNotFoundError, resolveChromium } from '../src/testing/browser';

try {
  await resolveChromium({ log: (line) => console.log(line) });
} catch (e) {
  if (!(e instanceof ChromiumNotFoundError)) throw e;
  console.error(e.message);
  process.exit(1);
}
