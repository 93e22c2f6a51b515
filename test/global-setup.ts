// Runs once before the browser tests: packs the library as `npm publish` would — `npm pack` runs the
// prepack script, which builds dist/ from this checkout — so the specs about what users get test fresh
// code: errors.spec.ts imports dist/webgpu-backprop.js, consumer.spec.ts installs the tarball.
// The tarball's path reaches the workers in $WEBGPU_BACKPROP_TARBALL (they inherit the environment).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export default function globalSetup(): () => void {
  const root = resolve(import.meta.dirname, '..');
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-backprop-pack-'));
  execFileSync('npm', ['pack', '--pack-destination', dir, '--silent'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${dir}`);
  process.env.WEBGPU_BACKPROP_TARBALL = join(dir, tarball);
  return () => rmSync(dir, { recursive: true, force: true });
}
