// Turns benchmark results into a text table (terminal, README) and a self-contained HTML report.
// Pure string functions: used by the Node runner and by the interactive benchmark page alike.
import type { BenchResult, CaseResult } from './types';
import { barChart } from './charts';

export interface Row {
  name: string;
  gpu?: CaseResult;
  cpu?: CaseResult;
  speedup?: number;
}

/** One row per case, the backends side by side, with the GPU/CPU speed-up where both ran. */
export function rows(result: BenchResult): Row[] {
  const byId = new Map<string, Row>();
  for (const r of result.results) {
    const row = byId.get(r.id) ?? { name: r.name };
    if (r.backend === 'webgpu') row.gpu = r;
    else row.cpu = r;
    byId.set(r.id, row);
  }
  for (const row of byId.values()) {
    if (row.gpu?.ms && row.cpu?.ms) row.speedup = row.cpu.ms.median / row.gpu.ms.median;
  }
  return [...byId.values()];
}

const fmt = (v: number | undefined, digits = 2) => (v === undefined ? '' : v >= 100 ? v.toFixed(0) : v.toFixed(digits));

function cell(r: CaseResult | undefined): string[] {
  if (!r) return ['—', '—'];
  if (r.skipped) return ['skipped', ''];
  const perf = r.group === 'fit' ? `${fmt(r.samplesPerSecond, 0)} samples/s` : `${fmt(r.gflops)} GFLOP/s`;
  return [`${fmt(r.ms?.median)} ms`, perf];
}

/** A Markdown table (also readable in a terminal). */
export function textTable(result: BenchResult): string {
  const header = ['case', 'WebGPU ms', 'WebGPU rate', 'CPU ms', 'CPU rate', 'GPU/CPU', 'variant'];
  const body = rows(result).map((row) => [
    row.name,
    ...cell(row.gpu),
    ...cell(row.cpu),
    row.speedup ? `${fmt(row.speedup, 1)}×` : '',
    row.gpu?.variant ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The fit cases' phase split, as text lines. */
export function splitLines(result: BenchResult): string[] {
  return result.results
    .filter((r) => r.group === 'fit' && r.backend === 'webgpu' && r.split)
    .map((r) => {
      const s = r.split!;
      if (s.forwardMs === undefined) return `${r.name}: ${s.method}`;
      return (
        `${r.name}: forward ${fmt(s.forwardMs)} ms, backward ${fmt(s.backwardMs)} ms, update ${fmt(s.updateMs)} ms, ` +
        `loss readback ${fmt(s.readbackMs)} ms (${s.method})`
      );
    });
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The charts of a result, as SVG strings: GFLOP/s per matmul/layer case, samples/s per fit case. */
export function charts(result: BenchResult): string[] {
  const rs = rows(result);
  const series = (pick: (r: CaseResult) => number | undefined, filter: (row: Row) => boolean) =>
    rs.filter(filter).map((row) => ({
      label: row.name,
      values: [
        row.gpu && !row.gpu.skipped ? pick(row.gpu) : undefined,
        row.cpu && !row.cpu.skipped ? pick(row.cpu) : undefined,
      ],
    }));
  const isGroup = (g: string) => (row: Row) => (row.gpu ?? row.cpu)!.group === g;
  return [
    barChart(
      'Matmul GFLOP/s (higher is better)',
      ['WebGPU', 'CPU'],
      series((r) => r.gflops, isGroup('matmul')),
    ),
    barChart(
      'Dense layer forward + backward + update, GFLOP/s',
      ['WebGPU', 'CPU'],
      series((r) => r.gflops, isGroup('layer')),
    ),
    barChart(
      'fit(): samples per second',
      ['WebGPU', 'CPU'],
      series((r) => r.samplesPerSecond, isGroup('fit')),
    ),
  ];
}

export function htmlReport(result: BenchResult): string {
  const m = result.meta;
  const adapter = m.adapter
    ? `${esc(m.adapter.name)}${/swiftshader/i.test(m.adapter.name) ? ' — <strong>software rendering on the CPU (SwiftShader), not a real GPU</strong>' : ''}`
    : 'none (WebGPU not measured)';
  const table = rows(result)
    .map(
      (row) =>
        `<tr><td>${esc(row.name)}</td>${[row.gpu, row.cpu]
          .map((r) =>
            cell(r)
              .map((c) => `<td${r?.skipped ? ` title="${esc(r.skipped)}"` : ''}>${esc(c)}</td>`)
              .join(''),
          )
          .join(
            '',
          )}<td>${row.speedup ? `${fmt(row.speedup, 1)}×` : ''}</td><td>${esc(row.gpu?.variant ?? '')}</td></tr>`,
    )
    .join('\n');
  const detail = result.results
    .map(
      (r) =>
        `<tr><td>${esc(r.name)}</td><td>${r.backend}</td><td>${(r.flops / 1e9).toFixed(3)}</td>` +
        `<td>${r.ms ? `${fmt(r.ms.median)} (${fmt(r.ms.min)}–${fmt(r.ms.max)}, ${r.ms.runs} runs)` : esc(r.skipped ?? '')}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>webgpu-backprop benchmark ${esc(m.date)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;padding:0 1rem;color:#1d2330}
table{border-collapse:collapse;margin:1rem 0}td,th{border-bottom:1px solid #dde;padding:.25rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left}.chart{margin:1.5rem 0}code{background:#f3f4f8;padding:0 .2rem}
</style></head><body>
<h1>webgpu-backprop benchmark</h1>
<p>Date: ${esc(m.date)}<br>Adapter: ${adapter}<br>Browser: ${esc(m.browserVersion ?? m.userAgent)}<br>
Adapter limits: ${
    m.adapter
      ? esc(
          Object.entries(m.adapter.limits)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        )
      : '—'
  }<br>
CPU backend calibration: ${fmt(m.cpuCalibrationGflops)} GFLOP/s (192³ matmul)</p>
<h2>Method</h2><p>${esc(m.method)}</p>
<h2>Results</h2>
<table><tr><th>case</th><th>WebGPU ms</th><th>WebGPU rate</th><th>CPU ms</th><th>CPU rate</th><th>GPU/CPU</th><th>matmul variant</th></tr>
${table}</table>
<p>${splitLines(result).map(esc).join('<br>')}</p>
${charts(result)
  .map((svg) => `<div class="chart">${svg}</div>`)
  .join('\n')}
<h2>Every measurement</h2>
<table><tr><th>case</th><th>backend</th><th>GFLOP per run</th><th>ms: median (min–max, runs)</th></tr>
${detail}</table>
<script type="application/json" id="data">${JSON.stringify(result).replace(/</g, '\\u003c')}</script>
</body></html>
`;
}
