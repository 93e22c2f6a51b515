// The interactive benchmark page; also the page `npm run bench` drives headless via window.runBenchmark.
import { runBenchmark } from '../bench/runner';
import { charts, splitLines, textTable } from '../bench/report';
import type { BenchConfig, BenchResult } from '../bench/types';
import { el } from './dom';

declare global {
  interface Window {
    runBenchmark: (
      config: Partial<BenchConfig>,
      progress?: (done: number, total: number, label: string) => void,
    ) => Promise<BenchResult>;
    benchProgress: (done: number, total: number, label: string) => void;
  }
}
window.runBenchmark = (config, progress) => runBenchmark(config, progress);

const run = el<HTMLButtonElement>('run');
const quick = el<HTMLInputElement>('quick');
const progress = el<HTMLSpanElement>('progress');
const output = el<HTMLDivElement>('output');

run.addEventListener('click', async () => {
  run.disabled = true;
  output.textContent = '';
  try {
    const result = await runBenchmark({ quick: quick.checked }, (done, total, label) => {
      progress.textContent = `${done}/${total}: ${label}`;
    });
    const pre = document.createElement('pre');
    pre.textContent = `${textTable(result)}\n\n${splitLines(result).join('\n')}`;
    output.append(pre);
    for (const svg of charts(result)) output.insertAdjacentHTML('beforeend', svg);
    progress.textContent = `done — adapter: ${result.meta.adapter?.name ?? 'no WebGPU'}`;
  } catch (e) {
    progress.textContent = `failed: ${(e as Error).message}`;
  } finally {
    run.disabled = false;
  }
});
