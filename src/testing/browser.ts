// Finds a Chromium that runs WebGPU headless, for tests and benchmarks driven from Node (Playwright, the
// benchmark runner). Node only: the browser library never imports this module (src/index.ts does not reach
// it), so it is not in the bundle.
//
// The order, first match wins:
//   1. $CHROME_PATH — the browser you named; an error if it is not an executable file.
//   2. Playwright's own Chromium, if `npx playwright install chromium` has put it on this machine.
//   3. A system Chrome or Chromium: the usual names on $PATH and the usual install paths (Linux, macOS,
//      Windows).
//   4. The Chromium inside the npm package @sparticuz/chromium (Linux x64 only), if it is installed: a
//      headless build with SwiftShader, unpacked once into a folder under os.tmpdir().
// Each candidate must answer `--version` before it is chosen, so a broken one (a snap shim, missing shared
// libraries) is passed over with the reason rather than failing every test later.
//
// Without a GPU, Chromium's WebGPU adapter is SwiftShader (Vulkan on the CPU); --enable-unsafe-webgpu exposes
// it headless. WebGPU also needs a secure context: serve the page from http://127.0.0.1 or localhost.
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/** Where the browser came from, in the order they are tried. */
export type ChromiumSource = 'CHROME_PATH' | 'playwright' | 'system' | 'npm';

/** A browser to launch, and why it was picked. */
export interface ResolvedChromium {
  /** The binary, for Playwright's `launchOptions.executablePath` (or any launcher's). */
  executablePath: string;
  /** The flags to launch it with ({@link WEBGPU_CHROMIUM_ARGS}). Launch headless: the npm build has no UI. */
  args: string[];
  source: ChromiumSource;
  /** The browser's own `--version` line, e.g. `Chromium 153.0.8010.0`. */
  version: string;
  /** What was tried before this one and why it was passed over, then why this one, e.g.
   *  `no $CHROME_PATH; Playwright's Chromium is not installed (…); found on this system`. */
  why: string;
}

export interface ResolveChromiumOptions {
  /**
   * Where to say which browser was picked and why, as one line. Default: stderr. `false`: say nothing.
   * A result reused from a parent process (see {@link resolveChromium}) is not announced again.
   */
  log?: ((line: string) => void) | false;
}

/** No usable browser was found; the message lists every place looked at and how to provide one. */
export class ChromiumNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChromiumNotFoundError';
  }
}

/** The flags every source is launched with. */
export const WEBGPU_CHROMIUM_ARGS: readonly string[] = [
  '--enable-unsafe-webgpu',
  // SwiftShader is the adapter we get without a GPU; on a machine with Vulkan, Chromium picks the real one.
  '--enable-features=Vulkan',
  // Chromium's sandbox refuses to start as root (CI containers); the pages it opens are our own.
  '--no-sandbox',
  // Without these Chromium keeps retrying network services on a closed network and stalls.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The npm package of the last resort. Its own `chromium.args` are for AWS Lambda (--single-process,
 *  --disable-web-security…) and are deliberately not used: WebGPU works with the flags above. */
const NPM_CHROMIUM = '@sparticuz/chromium';

/** What {@link probe} says of a path with nothing there: such candidates are not worth listing. */
const NOT_FOUND = 'not found';

/** A parent process's answer, inherited by its children (Playwright workers, a benchmark a test starts). */
const CACHE_ENV = 'WEBGPU_BACKPROP_CHROMIUM';

/**
 * Finds the browser (see the module comment for the order), says which one and why in one line, and
 * remembers the answer in `process.env` so that child processes — Playwright's workers, which load the
 * config again — reuse it without searching or printing again. Throws {@link ChromiumNotFoundError}.
 */
export async function resolveChromium(options: ResolveChromiumOptions = {}): Promise<ResolvedChromium> {
  const log = options.log === undefined ? (line: string) => console.error(line) : options.log;
  const cached = fromCache();
  if (cached) return cached;

  const passed: string[] = []; // why each earlier candidate was not used, in order
  const chosen = (source: ChromiumSource, executablePath: string, version: string, what: string) => {
    const why = [...passed, what].join('; ');
    const result: ResolvedChromium = { executablePath, args: [...WEBGPU_CHROMIUM_ARGS], source, version, why };
    process.env[CACHE_ENV] = JSON.stringify({ chromePath: process.env.CHROME_PATH ?? null, result });
    if (log) log(`Chromium for WebGPU: ${executablePath} (${version}, source: ${source}) — ${why}`);
    return result;
  };

  // 1. $CHROME_PATH: what the user asked for, so a bad value is an error, not a reason to look elsewhere.
  const named = process.env.CHROME_PATH;
  if (named) {
    const probed = probe(named);
    if (typeof probed === 'string') throw new ChromiumNotFoundError(`CHROME_PATH=${named}: ${probed}`);
    return chosen('CHROME_PATH', named, probed.version, '$CHROME_PATH is set');
  }
  passed.push('no $CHROME_PATH');

  // 2. Playwright's own download.
  const playwright = await playwrightChromium();
  if (playwright.path) {
    const probed = probe(playwright.path);
    if (typeof probed !== 'string') return chosen('playwright', playwright.path, probed.version, 'Playwright has one');
    passed.push(`Playwright's Chromium ${playwright.path} ${probed}`);
  } else passed.push(playwright.why);

  // 3. Installed on the system.
  const tried: string[] = [];
  const seen = new Set<string>();
  for (const path of systemCandidates()) {
    const real = realPath(path);
    if (seen.has(real)) continue; // /bin/x and /usr/bin/x are one file where /bin links to /usr/bin
    seen.add(real);
    const probed = probe(path);
    if (typeof probed !== 'string') return chosen('system', path, probed.version, 'found on this system');
    if (probed !== NOT_FOUND) tried.push(`${path} ${probed}`);
  }
  passed.push(tried.length > 0 ? tried.join('; ') : 'no system Chrome or Chromium');

  // 4. The npm package, if installed.
  const npm = await npmChromium();
  if (npm.path) {
    const probed = probe(npm.path);
    if (typeof probed !== 'string') return chosen('npm', npm.path, probed.version, `${npm.what} is installed`);
    passed.push(`${npm.what} at ${npm.path} ${probed}`);
  } else passed.push(npm.why);

  throw new ChromiumNotFoundError(
    `No Chromium to run the WebGPU tests: ${passed.join('; ')}.\n` +
      'Provide one: `npm install` (the @sparticuz/chromium dev dependency, Linux x64; it needs the ' +
      "system's libnss3), `npx playwright install chromium`, a system Chrome or Chromium, or " +
      'CHROME_PATH=/path/to/chrome.',
  );
}

/** `{ version }` if `path` is an executable file that answers `--version`, else why not. */
function probe(path: string): { version: string } | string {
  try {
    if (!statSync(path).isFile()) return 'is not a file';
    accessSync(path, constants.X_OK);
  } catch {
    return existsSync(path) ? 'is not executable' : NOT_FOUND;
  }
  // chrome.exe prints nothing for --version on Windows; there, existing has to do.
  if (process.platform === 'win32') return { version: 'Chrome (version not checked on Windows)' };
  const run = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  const version = run.stdout?.trim().split('\n').pop()?.trim() ?? '';
  if (run.status === 0 && version) return { version };
  const said = (run.stderr?.trim() || run.error?.message || `exit status ${run.status}`).split('\n').pop();
  return `does not start (${said})`;
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function fromCache(): ResolvedChromium | undefined {
  const raw = process.env[CACHE_ENV];
  if (!raw) return undefined;
  try {
    const { chromePath, result } = JSON.parse(raw) as { chromePath: string | null; result: ResolvedChromium };
    // Valid only for the same $CHROME_PATH and while the binary is still there.
    if (chromePath === (process.env.CHROME_PATH ?? null) && existsSync(result.executablePath)) return result;
  } catch {
    // Not ours, or from another version: search again.
  }
  return undefined;
}

async function playwrightChromium(): Promise<{ path?: string; why: string }> {
  // playwright-core is what @playwright/test and playwright are built on; try each in case only one resolves.
  for (const name of ['playwright-core', '@playwright/test', 'playwright']) {
    let path: string;
    try {
      const mod = (await import(name)) as { chromium?: { executablePath(): string } };
      if (!mod.chromium) continue;
      path = mod.chromium.executablePath();
    } catch {
      continue;
    }
    if (existsSync(path)) return { path, why: '' };
    return { why: `Playwright's Chromium is not installed (${path})` };
  }
  return { why: 'Playwright is not installed' };
}

function systemCandidates(): string[] {
  const names = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome', 'chrome'];
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .flatMap((dir) => names.map((name) => join(dir, name)));
  const home = homedir();
  const mac = ['Google Chrome.app/Contents/MacOS/Google Chrome', 'Chromium.app/Contents/MacOS/Chromium'];
  const windows = [process.env.PROGRAMFILES, process.env['PROGRAMFILES(X86)'], process.env.LOCALAPPDATA]
    .filter((dir): dir is string => Boolean(dir))
    .map((dir) => join(dir, 'Google', 'Chrome', 'Application', 'chrome.exe'));
  const fixed = {
    linux: [...names.map((name) => `/usr/bin/${name}`), '/opt/google/chrome/chrome', '/snap/bin/chromium'],
    darwin: [...mac.map((app) => `/Applications/${app}`), ...mac.map((app) => join(home, 'Applications', app))],
    win32: windows,
  }[process.platform as string];
  return [...new Set([...(process.platform === 'win32' ? [] : onPath), ...(fixed ?? [])])];
}

interface SparticuzChromium {
  default: { executablePath(input?: string): Promise<string> };
}

async function npmChromium(): Promise<{ path?: string; what: string; why: string }> {
  const what = NPM_CHROMIUM;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return {
      what,
      why: `${what} is skipped (its build is for Linux x64, this is ${process.platform} ${process.arch})`,
    };
  let mod: SparticuzChromium;
  let version: string;
  try {
    // Resolved from here, where the dev dependency is installed; a variable keeps bundlers from following it.
    const name = NPM_CHROMIUM;
    const entry = createRequire(import.meta.url).resolve(name);
    version = (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string })
      .version;
    mod = (await import(name)) as SparticuzChromium;
  } catch {
    return { what, why: `${what} is not installed` };
  }
  const label = `${what} ${version}`;
  try {
    return { path: await unpack(mod, version), what: label, why: '' };
  } catch (e) {
    return { what: label, why: `${label} could not be unpacked (${(e as Error).message})` };
  }
}

/**
 * Unpacks the package's Chromium (and SwiftShader beside it, where Chromium looks for it) into a folder of
 * its own, named by version and user, and returns the binary. The package itself would unpack into
 * os.tmpdir() directly and reuse whatever `chromium` it finds there, even another version or a half-written
 * one; so we point os.tmpdir() at a fresh folder while it unpacks and rename that into place when complete
 * (a rename is atomic: a concurrent process sees either nothing or the whole folder).
 */
async function unpack(mod: SparticuzChromium, version: string): Promise<string> {
  const uid = process.getuid?.() ?? 'user';
  const dir = join(tmpdir(), `webgpu-backprop-chromium-${version}-${uid}`);
  const binary = join(dir, 'chromium');
  if (existsSync(binary)) return binary;
  const staging = mkdtempSync(`${dir}.partial-`);
  const savedTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = staging; // os.tmpdir() reads it on every call
  try {
    const unpacked = await mod.default.executablePath();
    if (unpacked !== join(staging, 'chromium')) throw new Error(`${NPM_CHROMIUM} unpacked to ${unpacked}`);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  } finally {
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
  }
  try {
    renameSync(staging, dir);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(binary)) throw e; // else another process finished first: use its copy
  }
  return binary;
}
