// The drill's picture: stacked time-series panels sharing one time axis, the flood shaded, as a
// hand-built SVG (no chart library: a few polylines and ticks are all it takes).

export interface Series {
  name: string;
  color: string;
  /** [ms since the drill's start, value]; null values leave a gap. */
  points: readonly (readonly [number, number | null])[];
}

export interface Panel {
  title: string;
  unit: string;
  series: readonly Series[];
  /** Drawn as a dashed horizontal line (a target), if given. */
  guide?: { value: number; label: string };
}

export interface ChartInput {
  title: string;
  /** One or two lines ("\n" between). */
  subtitle: string;
  durationMs: number;
  /** The flood's span; `onsetToMs` ends its onset, drawn darker. */
  flood: { fromMs: number; toMs: number; onsetToMs?: number };
  panels: readonly Panel[];
}

const WIDTH = 960;
const PANEL_HEIGHT = 150;
const PANEL_GAP = 46;
const LEFT = 78;
const RIGHT = 170;
/** Room for the title and two subtitle lines. */
const TOP = 90;

function escapeXml(text: string): string {
  return text.replace(
    /[<>&"]/g,
    (char) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[char] ?? char,
  );
}

/** A round axis maximum at or above `value` (1, 2, 5 × 10^n). */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function formatValue(value: number): string {
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(value % 1_000_000 === 0 ? 0 : 1)}M`;
  if (value >= 1_000) return `${(value / 1_000).toFixed(value % 1_000 === 0 ? 0 : 1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

export function renderChart(input: ChartInput): string {
  const plotWidth = WIDTH - LEFT - RIGHT;
  const height = TOP + input.panels.length * (PANEL_HEIGHT + PANEL_GAP) + 20;
  const x = (ms: number) =>
    LEFT + (Math.max(0, Math.min(input.durationMs, ms)) / input.durationMs) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="26" font-size="18" font-weight="bold">${escapeXml(input.title)}</text>`,
    ...input.subtitle
      .split("\n")
      .slice(0, 2)
      .map((line, index) => `<text x="${LEFT}" y="${46 + index * 16}" fill="#555">${escapeXml(line)}</text>`),
  ];
  input.panels.forEach((panel, index) => {
    const top = TOP + index * (PANEL_HEIGHT + PANEL_GAP);
    const values = panel.series.flatMap((series) =>
      series.points.flatMap(([, value]) => (value === null ? [] : [value])),
    );
    const yMax = niceMax(Math.max(panel.guide?.value ?? 0, ...values, 0));
    const y = (value: number) => top + PANEL_HEIGHT - (Math.min(value, yMax) / yMax) * PANEL_HEIGHT;
    parts.push(
      `<rect x="${x(input.flood.fromMs)}" y="${top}" width="${x(input.flood.toMs) - x(input.flood.fromMs)}" height="${PANEL_HEIGHT}" fill="#fde8e8"/>`,
      ...(input.flood.onsetToMs === undefined
        ? []
        : [
            `<rect x="${x(input.flood.fromMs)}" y="${top}" width="${x(input.flood.onsetToMs) - x(input.flood.fromMs)}" height="${PANEL_HEIGHT}" fill="#f8cccc"/>`,
          ]),
      `<text x="${LEFT}" y="${top - 8}" font-weight="bold">${escapeXml(panel.title)} <tspan font-weight="normal" fill="#555">(${escapeXml(panel.unit)})</tspan></text>`,
    );
    // Five divisions: round labels for every niceMax (1, 2, 5 × 10^n).
    for (let step = 0; step <= 5; step++) {
      const value = (yMax * step) / 5;
      parts.push(
        `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#e4e4e4"/>`,
        `<text x="${LEFT - 6}" y="${y(value) + 4}" text-anchor="end" fill="#555">${formatValue(value)}</text>`,
      );
    }
    parts.push(
      `<rect x="${LEFT}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#999"/>`,
    );
    if (panel.guide !== undefined)
      parts.push(
        `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${y(panel.guide.value)}" y2="${y(panel.guide.value)}" stroke="#b00" stroke-dasharray="6 4"/>`,
        `<text x="${LEFT + plotWidth + 8}" y="${y(panel.guide.value) + 4}" fill="#b00">${escapeXml(panel.guide.label)}</text>`,
      );
    panel.series.forEach((series, seriesIndex) => {
      const segments: string[][] = [[]];
      for (const [ms, value] of series.points) {
        if (value === null) segments.push([]);
        else segments[segments.length - 1].push(`${x(ms).toFixed(1)},${y(value).toFixed(1)}`);
      }
      for (const segment of segments)
        if (segment.length > 0)
          parts.push(
            `<polyline fill="none" stroke="${series.color}" stroke-width="1.6" points="${segment.join(" ")}"/>`,
          );
      const legendY = top + 14 + seriesIndex * 18;
      parts.push(
        `<line x1="${LEFT + plotWidth + 8}" x2="${LEFT + plotWidth + 26}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${series.color}" stroke-width="3"/>`,
        `<text x="${LEFT + plotWidth + 30}" y="${legendY}">${escapeXml(series.name)}</text>`,
      );
    });
    // Time axis under every panel: seconds since the start.
    const totalSeconds = input.durationMs / 1000;
    const stepSeconds = niceMax(totalSeconds / 10);
    for (let second = 0; second <= totalSeconds; second += stepSeconds)
      parts.push(
        `<text x="${x(second * 1000)}" y="${top + PANEL_HEIGHT + 15}" text-anchor="middle" fill="#555">${formatValue(second)} s</text>`,
      );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
