// Turns benchmark results into a text table (terminal, README) and a self-contained HTML report.
// Pure string functions: used by the Node runner and by the interactive benchmark page alike.
import type { BenchResult, CaseResult } from './types';
import { barChart, esc } from './charts';

/** The backends a report has columns for, in this order, and their column titles. */
const BACKENDS = [
  ['webgpu', 'WebGPU'],
  ['wasm', 'wasm'],
  ['wasm1', 'wasm 1 thread'],
  ['cpu', 'CPU ref'],
] as const;
type Kind = (typeof BACKENDS)[number][0];

export interface Row {
  name: string;
  /** Each backend's result for this case. */
  by: Partial<Record<Kind, CaseResult>>;
  /** WebGPU's speed against the fastest CPU-side backend (wasm or the CPU reference) that ran the case. */
  speedup?: number;
  /** Which CPU-side backend that was. */
  against?: Kind;
}

/** One row per case, the backends side by side, with WebGPU's speed-up over the fastest CPU backend. */
export function rows(result: BenchResult): Row[] {
  const byId = new Map<string, Row>();
  for (const r of result.results) {
    const row = byId.get(r.id) ?? { name: r.name, by: {} };
    row.by[r.backend] = r;
    byId.set(r.id, row);
  }
  for (const row of byId.values()) {
    const gpu = row.by.webgpu?.ms?.median;
    const cpus = (['wasm', 'wasm1', 'cpu'] as const).filter((k) => row.by[k]?.ms);
    const best = cpus.sort((a, b) => (row.by[a]?.ms?.median ?? 0) - (row.by[b]?.ms?.median ?? 0))[0];
    if (gpu && best) {
      row.speedup = (row.by[best]?.ms?.median ?? 0) / gpu;
      row.against = best;
    }
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

/** The backends that ran at least one case, as [kind, title]. */
function present(result: BenchResult) {
  return BACKENDS.filter(([k]) => result.results.some((r) => r.backend === k));
}

/** A ratio to two significant digits (0.086×, 1.5×, 12×): one decimal would show every GPU loss as 0.1×. */
const times = (v: number) => (v >= 10 ? v.toFixed(0) : v.toPrecision(2));

const ratio = (row: Row) =>
  row.speedup ? `${times(row.speedup)}× (${BACKENDS.find(([k]) => k === row.against)?.[1]})` : '';

/** The table's header and rows, as cells. */
function table(result: BenchResult): { header: string[]; body: string[][] } {
  const kinds = present(result);
  const header = ['case', ...kinds.flatMap(([, t]) => [`${t} ms`, `${t} rate`]), 'GPU / fastest CPU', 'variant'];
  const body = rows(result).map((row) => [
    row.name,
    ...kinds.flatMap(([k]) => cell(row.by[k])),
    ratio(row),
    row.by.webgpu?.variant ?? '',
  ]);
  return { header, body };
}

/** A Markdown table (also readable in a terminal). */
export function textTable(result: BenchResult): string {
  const { header, body } = table(result);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The fit cases' phase split, as text lines. */
export function splitLines(result: BenchResult): string[] {
  return result.results.flatMap((r) => {
    const s = r.split;
    if (r.group !== 'fit' || r.backend !== 'webgpu' || !s) return [];
    if (s.forwardMs === undefined) return [`${r.name}: ${s.method}`];
    return [
      `${r.name}: forward ${fmt(s.forwardMs)} ms, backward ${fmt(s.backwardMs)} ms, update ${fmt(s.updateMs)} ms, ` +
        `loss readback ${fmt(s.readbackMs)} ms (${s.method})`,
    ];
  });
}

/** The charts of a result, as SVG strings: GFLOP/s per matmul/layer case, samples/s per fit case. */
export function charts(result: BenchResult): string[] {
  const kinds = present(result);
  const legend = kinds.map(([, t]) => t);
  const series = (pick: (r: CaseResult) => number | undefined, group: string) =>
    rows(result)
      .filter((row) => Object.values(row.by)[0]?.group === group)
      .map((row) => ({
        label: row.name,
        values: kinds.map(([k]) => {
          const r = row.by[k];
          return r && !r.skipped ? pick(r) : undefined;
        }),
      }));
  return [
    barChart(
      'Matmul GFLOP/s (higher is better)',
      legend,
      series((r) => r.gflops, 'matmul'),
    ),
    barChart(
      'Dense layer forward + backward + update, GFLOP/s',
      legend,
      series((r) => r.gflops, 'layer'),
    ),
    barChart(
      'fit(): samples per second',
      legend,
      series((r) => r.samplesPerSecond, 'fit'),
    ),
  ];
}

export function htmlReport(result: BenchResult): string {
  const m = result.meta;
  const software = ' — <strong>software rendering on the CPU (SwiftShader), not a real GPU</strong>';
  const adapter = m.adapter
    ? `${esc(m.adapter.name)}${/swiftshader/i.test(m.adapter.name) ? software : ''}`
    : 'none (WebGPU not measured)';
  const { header, body } = table(result);
  const htmlTable = [
    `<tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`,
    ...body.map((cells) => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`),
  ].join('\n');
  const timing = (r: CaseResult) =>
    r.ms ? `${fmt(r.ms.median)} (${fmt(r.ms.min)}–${fmt(r.ms.max)}, ${r.ms.runs} runs)` : esc(r.skipped ?? '');
  const detail = result.results
    .map(
      (r) =>
        `<tr><td>${esc(r.name)}</td><td>${r.backend}</td><td>${(r.flops / 1e9).toFixed(3)}</td>` +
        `<td>${timing(r)}</td></tr>`,
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
<table>
${htmlTable}</table>
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
