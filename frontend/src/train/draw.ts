// Canvas drawing for the live views: histograms, heatmaps, colour maps. Plain functions of a
// 2-D context, so each view redraws in well under a millisecond.
import type { TensorSummary } from "./types";

export const VALUE_COLOR = "#2f6fdb";
export const GRAD_COLOR = "#e0702b";

/** A canvas sized for the device's pixel ratio; returns its context in CSS pixels. */
export function prepare(
  canvas: HTMLCanvasElement,
  w: number,
  h: number,
): CanvasRenderingContext2D | null {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  const pw = Math.round(w * dpr);
  const ph = Math.round(h * dpr);
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
  }
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

/** Bars of a summary's histogram in a box; a faint zero line when 0 is inside the range. */
export function drawHistogram(
  ctx: CanvasRenderingContext2D,
  s: TensorSummary,
  x: number,
  y: number,
  w: number,
  h: number,
  color: string,
) {
  const counts = s.hist.counts;
  if (!counts.length) return;
  const max = Math.max(...counts);
  const bw = w / counts.length;
  ctx.fillStyle = color;
  for (let i = 0; i < counts.length; i++) {
    if (!counts[i]) continue;
    // sqrt keeps small bins visible beside a tall one
    const bh = Math.max(1, Math.sqrt(counts[i] / max) * (h - 1));
    ctx.fillRect(x + i * bw + 0.5, y + h - bh, Math.max(1, bw - 1), bh);
  }
  const lo = s.min ?? 0;
  const hi = s.max ?? 0;
  if (lo < 0 && hi > 0) {
    const zx = x + ((0 - lo) / (hi - lo)) * w;
    ctx.fillStyle = "rgba(0,0,0,0.35)";
    ctx.fillRect(zx, y, 1, h);
  }
}

/** Flattens a summary's `data` (first sample) into a list of numbers, or null if absent. */
export function flatData(data: unknown): (number | null)[] | null {
  if (data === undefined || data === null) return null;
  if (typeof data === "number") return [data];
  if (!Array.isArray(data)) return null;
  const out: (number | null)[] = [];
  const walk = (d: unknown) => {
    if (Array.isArray(d)) for (const v of d) walk(v);
    else out.push(typeof d === "number" ? d : null);
  };
  walk(data);
  return out;
}

/** Diverging blue–white–red for signed values scaled to [-1, 1]. */
export function diverging(t: number): string {
  const v = Math.max(-1, Math.min(1, t));
  const a = Math.abs(v);
  const [r, g, b] = v >= 0 ? [214, 69, 65] : [47, 111, 219];
  const mix = (c: number) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

/** Cells of a matrix (rows × cols), colours scaled by the largest magnitude. */
export function drawHeatmap(
  ctx: CanvasRenderingContext2D,
  rows: (number | null)[][],
  x: number,
  y: number,
  w: number,
  h: number,
) {
  const nr = rows.length;
  const nc = nr ? rows[0].length : 0;
  if (!nr || !nc) return;
  let max = 0;
  for (const r of rows) {
    for (const v of r) if (v !== null && Math.abs(v) > max) max = Math.abs(v);
  }
  const cw = w / nc;
  const ch = h / nr;
  for (let i = 0; i < nr; i++) {
    for (let j = 0; j < nc; j++) {
      const v = rows[i][j];
      if (Number.isNaN(v)) continue; // padding of a grid (asGrid): nothing there
      ctx.fillStyle = v === null ? "#000" : diverging(max ? v / max : 0); // null: NaN or ∞
      ctx.fillRect(x + j * cw, y + i * ch, Math.ceil(cw), Math.ceil(ch));
    }
  }
}

/** Lays a vector out as a near-square grid (for a node's value heatmap). */
export function asGrid(values: (number | null)[], aspect: number): (number | null)[][] {
  const n = values.length;
  const cols = Math.max(1, Math.min(n, Math.round(Math.sqrt(n * aspect))));
  const rows: (number | null)[][] = [];
  for (let i = 0; i < n; i += cols) {
    const row = values.slice(i, i + cols);
    while (row.length < cols) row.push(Number.NaN); // padding, left blank
    rows.push(row);
  }
  return rows;
}

export const CLASS_COLORS = [
  "#2f6fdb",
  "#e0702b",
  "#1f8a4c",
  "#8356b8",
  "#c62f3c",
  "#b08a00",
  "#0f8b8d",
  "#6b7785",
  "#d4449b",
  "#4f4f4f",
];

/** Sequential colour (viridis-like) for t in [0, 1]. */
export function sequential(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const v = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(v));
  const f = v - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export function hexRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Numbers for the small text of the views: 3 significant digits, exponents when far. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}
