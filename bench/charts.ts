// Grouped horizontal bar charts as SVG strings: no library, so the HTML report stays one
// self-contained file and the benchmark page draws exactly the same charts.

export interface Series {
  label: string;
  values: (number | undefined)[];
}

const COLORS = ['#3b6fd8', '#e0803a', '#f2b880', '#4aa564'];
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
/** `s` escaped for HTML text and attribute values (the pattern matches only ENTITIES' keys). */
export const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ENTITIES[c]);

/** Bars on a log scale (rates span orders of magnitude); missing values are drawn as "skipped". */
export function barChart(title: string, legend: string[], data: Series[]): string {
  const labelW = 260;
  const plotW = 560;
  const barH = 14;
  const groupH = barH * legend.length + 10;
  const top = 46;
  const height = top + data.length * groupH + 24;
  const all = data.flatMap((d) => d.values).filter((v): v is number => v !== undefined && v > 0);
  const hi = Math.max(1, ...all);
  const lo = Math.min(hi / 10, ...all);
  const logLo = Math.floor(Math.log10(lo));
  const logHi = Math.ceil(Math.log10(hi));
  const x = (v: number) => ((Math.log10(v) - logLo) / Math.max(1, logHi - logLo)) * plotW;
  const parts: string[] = [
    `<text x="0" y="16" font-weight="600">${esc(title)}</text>`,
    ...legend.map(
      (l, i) =>
        `<rect x="${labelW + i * 110}" y="26" width="10" height="10" fill="${COLORS[i]}"/>` +
        `<text x="${labelW + i * 110 + 14}" y="35">${esc(l)}</text>`,
    ),
  ];
  for (let p = logLo; p <= logHi; p++) {
    const gx = labelW + x(10 ** p);
    parts.push(
      `<line x1="${gx}" x2="${gx}" y1="${top - 4}" y2="${height - 20}" stroke="#e3e5ec"/>`,
      `<text x="${gx}" y="${height - 6}" text-anchor="middle" fill="#667">` +
        `${10 ** p >= 1 ? (10 ** p).toLocaleString('en') : (10 ** p).toPrecision(1)}</text>`,
    );
  }
  data.forEach((d, g) => {
    const y0 = top + g * groupH;
    parts.push(`<text x="${labelW - 8}" y="${y0 + groupH / 2}" text-anchor="end">${esc(d.label)}</text>`);
    d.values.forEach((v, i) => {
      const y = y0 + i * barH;
      if (v === undefined || !(v > 0)) {
        parts.push(`<text x="${labelW + 4}" y="${y + barH - 3}" fill="#999" font-size="11">skipped</text>`);
        return;
      }
      const w = Math.max(1, x(v));
      parts.push(
        `<rect class="bar" x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLORS[i]}">` +
          `<title>${esc(legend[i])}: ${v.toPrecision(4)}</title></rect>`,
        `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH - 3}" font-size="11">` +
          `${v >= 100 ? v.toFixed(0) : v.toPrecision(3)}</text>`,
      );
    });
  });
  const size = `width="${labelW + plotW + 60}" height="${height}"`;
  const font = 'font-family="system-ui,sans-serif" font-size="12"';
  return `<svg xmlns="http://www.w3.org/2000/svg" class="bench-chart" ${size} ${font}>${parts.join('')}</svg>`;
}
