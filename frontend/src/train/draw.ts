// Canvas drawing for the live views: histograms, heatmaps, colour maps, a node's live view.
// Plain functions of a 2-D context, so each view redraws in well under a millisecond. Nothing
// here touches the DOM or imports a module with side effects: the live worker (live.worker.ts)
// draws the node views with these same functions into canvases handed over to it.
import { drawMaps } from "./maps";
import { drawnOf } from "./shown";
import type { LiveMode } from "./store";
import type { BoundaryFrame, NodeSummary, TensorSummary } from "./types";

export const VALUE_COLOR = "#2f6fdb";
export const GRAD_COLOR = "#e0702b";

/** A 2-D context of a page canvas or of an OffscreenCanvas (in the live worker). */
export type Ctx2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

/** The device pixel ratio the views draw at (at most 2). */
export const pixelRatio = () =>
  Math.min(2, (typeof window !== "undefined" && window.devicePixelRatio) || 1);

/** A canvas sized for the device's pixel ratio; returns its context in CSS pixels. */
export function prepare(
  canvas: HTMLCanvasElement,
  w: number,
  h: number,
  dpr?: number,
): CanvasRenderingContext2D | null;
export function prepare(
  canvas: OffscreenCanvas,
  w: number,
  h: number,
  dpr?: number,
): OffscreenCanvasRenderingContext2D | null;
export function prepare(
  canvas: HTMLCanvasElement | OffscreenCanvas,
  w: number,
  h: number,
  dpr = pixelRatio(),
): Ctx2D | null {
  const pw = Math.round(w * dpr);
  const ph = Math.round(h * dpr);
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
  }
  const ctx = canvas.getContext("2d") as Ctx2D | null;
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

/** Bars of a summary's histogram in a box; a faint zero line when 0 is inside the range. */
export function drawHistogram(
  ctx: Ctx2D,
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

// The diverging map in 511 steps, its CSS strings made once: a heatmap cell then costs no
// string building (the colours differ from `diverging` by less than one unit of 255).
const STEPS = 255;
let divergingTable: string[] | null = null;
function divergingCached(t: number): string {
  if (!divergingTable) {
    divergingTable = [];
    for (let i = -STEPS; i <= STEPS; i++) divergingTable.push(diverging(i / STEPS));
  }
  const v = Number.isFinite(t) ? Math.max(-1, Math.min(1, t)) : 0;
  return divergingTable[Math.round(v * STEPS) + STEPS];
}

/** Cells of a matrix (rows × cols), colours scaled by the largest magnitude. */
export function drawHeatmap(
  ctx: Ctx2D,
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
      ctx.fillStyle = v === null ? "#000" : divergingCached(max ? v / max : 0); // null: NaN or ∞
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

// ------------------------------------------------------------------ a node's live view

/** The live view under a node: its canvas in CSS pixels, and the plot's height (the norms are
 * written below it). */
export const NODE_W = 120;
export const NODE_H = 40;
const PLOT = 28;

/** Plot(s) on top, norms below; a scalar (a cost) is written as a number instead. What a plot
 * is — channel maps, a heatmap or a histogram — is `drawnOf` (shown.ts), which the hover text
 * names. */
export function drawNode(ctx: Ctx2D, n: NodeSummary, mode: LiveMode) {
  const W = NODE_W;
  const H = NODE_H;
  const value = n.value;
  const grad = n.grad ?? null;
  const showValue = mode !== "grad";
  const showGrad = mode !== "value";
  ctx.font = "9.5px ui-monospace, SFMono-Regular, Menlo, monospace";
  ctx.textBaseline = "middle";
  if (value.shape.length === 0) {
    ctx.font = "12px ui-monospace, SFMono-Regular, Menlo, monospace";
    if (showValue) {
      ctx.fillStyle = VALUE_COLOR;
      ctx.fillText(fmt(value.mean), 3, showGrad ? 10 : H / 2);
    }
    if (showGrad) {
      ctx.fillStyle = GRAD_COLOR;
      ctx.fillText(`∂ ${grad ? fmt(grad.mean) : "—"}`, 3, showValue ? 28 : H / 2);
    }
    return;
  }
  const rows: [TensorSummary, string][] = [];
  if (showValue) rows.push([value, VALUE_COLOR]);
  if (showGrad && grad) rows.push([grad, GRAD_COLOR]);
  const h = PLOT / Math.max(1, rows.length);
  rows.forEach(([s, color], i) => {
    plot(ctx, s, color, i * h, h, mode);
  });
  ctx.fillStyle = VALUE_COLOR;
  if (showValue) ctx.fillText(`‖v‖ ${fmt(value.norm)}`, 1, PLOT + 6);
  if (showGrad) {
    ctx.fillStyle = GRAD_COLOR;
    const text = `‖g‖ ${grad ? fmt(grad.norm) : "—"}`;
    ctx.fillText(text, showValue ? W - ctx.measureText(text).width - 1 : 1, PLOT + 6);
  }
}

function plot(ctx: Ctx2D, s: TensorSummary, color: string, y: number, h: number, mode: LiveMode) {
  const kind = drawnOf(s).kind;
  if (kind === "maps" && s.maps) {
    const key = mode === "both" ? 5 : 0; // room for the value/gradient stripe
    drawMaps(ctx, s.maps, key, y + 1, NODE_W - key, h - 2, divergingCached);
    if (mode === "both") {
      ctx.fillStyle = color;
      ctx.fillRect(0, y + 1, 3, h - 2);
    }
    return;
  }
  const values = kind === "data" ? flatData(s.data) : null;
  if (values) {
    drawHeatmap(ctx, asGrid(values, NODE_W / h), 0, y + 1, NODE_W, h - 2);
    if (mode === "both") {
      ctx.fillStyle = color;
      ctx.fillRect(0, y + 1, 3, h - 2);
    }
  } else {
    drawHistogram(ctx, s, 0, y + 1, NODE_W, h - 2, color);
  }
}

/** A node's summaries by node id (a node's first output when it has several), as the canvas
 * shows them. */
export function byNode(nodes: Record<string, NodeSummary>): Map<string, NodeSummary> {
  const out = new Map<string, NodeSummary>();
  for (const [key, s] of Object.entries(nodes)) {
    const id = key.split(":")[0];
    if (!out.has(id) || key === id) out.set(id, s);
  }
  return out;
}

// ------------------------------------------------------------ the decision boundary

/** The boundary view's side, in CSS pixels. */
export const BOUNDARY_SIZE = 210;

let scratchCanvas: HTMLCanvasElement | OffscreenCanvas | null = null;

/** A canvas of w × h off screen, reused (an OffscreenCanvas where there is one: the worker). */
function scratch(w: number, h: number): HTMLCanvasElement | OffscreenCanvas {
  if (!scratchCanvas) {
    scratchCanvas =
      typeof OffscreenCanvas !== "undefined"
        ? new OffscreenCanvas(w, h)
        : document.createElement("canvas");
  }
  if (scratchCanvas.width !== w) scratchCanvas.width = w;
  if (scratchCanvas.height !== h) scratchCanvas.height = h;
  return scratchCanvas;
}

/** The range of a regression's predictions and targets (a light frame carries it). */
export function valueRange(b: BoundaryFrame): [number, number] {
  const given = (b as { range?: [number, number] }).range;
  if (given) return given;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const row of b.z)
    for (const v of row) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  for (const p of [...b.points.train, ...b.points.test])
    [lo, hi] = [Math.min(lo, p[2]), Math.max(hi, p[2])];
  return lo <= hi ? [lo, hi] : [0, 1];
}

/** One feature, regression: the samples as (x, y) and the model's curve through them. */
function drawCurve(ctx: Ctx2D, b: BoundaryFrame) {
  const xs = b.x0;
  const zs = b.z[0] ?? [];
  const pts = [...b.points.train, ...b.points.test];
  const ys = [...zs, ...pts.map((p) => p[1])].filter(Number.isFinite);
  if (!xs.length || !ys.length) return;
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  const pad = (hi - lo || 1) * 0.08;
  lo -= pad;
  hi += pad;
  const px = (v: number) => ((v - xs[0]) / (xs[xs.length - 1] - xs[0] || 1)) * BOUNDARY_SIZE;
  const py = (v: number) => BOUNDARY_SIZE - ((v - lo) / (hi - lo)) * BOUNDARY_SIZE;
  ctx.fillStyle = "#fafbfc";
  ctx.fillRect(0, 0, BOUNDARY_SIZE, BOUNDARY_SIZE);
  for (const [x, y] of b.points.train) {
    ctx.beginPath();
    ctx.arc(px(x), py(y), 2.6, 0, Math.PI * 2);
    ctx.fillStyle = CLASS_COLORS[0];
    ctx.fill();
  }
  for (const [x, y] of b.points.test) {
    ctx.beginPath();
    ctx.arc(px(x), py(y), 3.2, 0, Math.PI * 2);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = CLASS_COLORS[1];
    ctx.stroke();
  }
  ctx.beginPath();
  zs.forEach((z, j) => {
    if (j) ctx.lineTo(px(xs[j]), py(z));
    else ctx.moveTo(px(xs[j]), py(z));
  });
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#c62f3c";
  ctx.stroke();
}

export function drawBoundary(ctx: Ctx2D, b: BoundaryFrame) {
  if (b.kind === "curve") {
    drawCurve(ctx, b);
    return;
  }
  const n0 = b.x0.length;
  const n1 = b.x1.length;
  if (!n0 || !n1) return;
  const range = b.kind === "value" ? valueRange(b) : null;
  const colorOf = (v: number): [number, number, number] => {
    if (range) return sequential((v - range[0]) / (range[1] - range[0] || 1));
    return hexRgb(CLASS_COLORS[Math.abs(Math.round(v)) % CLASS_COLORS.length]);
  };
  // The grid as an image, one pixel per cell (row 0 = lowest x1 = bottom), then scaled up.
  const img = new ImageData(n0, n1);
  for (let i = 0; i < n1; i++) {
    for (let j = 0; j < n0; j++) {
      const [r, g, bl] = colorOf(b.z[i][j]);
      const o = ((n1 - 1 - i) * n0 + j) * 4;
      const a = range ? 1 : 0.35;
      img.data[o] = 255 + (r - 255) * a;
      img.data[o + 1] = 255 + (g - 255) * a;
      img.data[o + 2] = 255 + (bl - 255) * a;
      img.data[o + 3] = 255;
    }
  }
  const off = scratch(n0, n1);
  (off.getContext("2d") as Ctx2D | null)?.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = !!range;
  ctx.drawImage(off, 0, 0, BOUNDARY_SIZE, BOUNDARY_SIZE);
  const [x0lo, x0hi] = [b.x0[0], b.x0[n0 - 1]];
  const [x1lo, x1hi] = [b.x1[0], b.x1[n1 - 1]];
  const px = (v: number) => ((v - x0lo) / (x0hi - x0lo || 1)) * BOUNDARY_SIZE;
  const py = (v: number) => BOUNDARY_SIZE - ((v - x1lo) / (x1hi - x1lo || 1)) * BOUNDARY_SIZE;
  const rgb = (c: [number, number, number]) => `rgb(${c[0] | 0},${c[1] | 0},${c[2] | 0})`;
  for (const [a, c, y] of b.points.train) {
    ctx.beginPath();
    ctx.arc(px(a), py(c), 2.8, 0, Math.PI * 2);
    ctx.fillStyle = rgb(colorOf(y));
    ctx.fill();
    ctx.lineWidth = 0.8;
    ctx.strokeStyle = "#fff";
    ctx.stroke();
  }
  for (const [a, c, y] of b.points.test) {
    ctx.beginPath();
    ctx.arc(px(a), py(c), 3.4, 0, Math.PI * 2);
    ctx.lineWidth = 1.8;
    ctx.strokeStyle = rgb(colorOf(y));
    ctx.stroke();
  }
}
