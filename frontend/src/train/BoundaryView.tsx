import { useLayoutEffect, useRef } from "react";
import { CLASS_COLORS, fmt, hexRgb, prepare, sequential } from "./draw";
import { useTrain } from "./store";
import type { BoundaryFrame } from "./types";

const SIZE = 210;

/**
 * The model's prediction over the plane of a 2-D dataset, with the training points (filled)
 * and test points (rings): a decision boundary for classification, a fit (colour = predicted
 * value, point colour = true value) for regression. Updated live from `boundary` frames.
 */
export function BoundaryView() {
  const boundary = useTrain((s) => s.boundary);
  const hasRun = useTrain((s) => s.run !== null);
  const canvas = useRef<HTMLCanvasElement>(null);

  useLayoutEffect(() => {
    const c = canvas.current;
    if (!c || !boundary) return;
    const ctx = prepare(c, SIZE, SIZE);
    if (ctx) drawBoundary(ctx, boundary);
  }, [boundary]);

  if (!boundary) {
    return (
      <div className="boundary-empty muted" data-testid="boundary-empty">
        {hasRun
          ? "No decision boundary: it is drawn for datasets with two features (and the fit for a regression on one)."
          : "Press ▶ to train: for a 2-D dataset the decision boundary (or the fit) shows here."}
      </div>
    );
  }
  const range = boundary.kind === "value" ? valueRange(boundary) : null;
  const what =
    boundary.kind === "class"
      ? "decision boundary"
      : boundary.kind === "curve"
        ? "fit: prediction over x"
        : `fit: ${fmt(range?.[0])} … ${fmt(range?.[1])}`;
  return (
    <div
      className="boundary"
      data-testid="boundary-view"
      data-step={boundary.step}
      data-kind={boundary.kind}
    >
      <canvas ref={canvas} style={{ width: SIZE, height: SIZE }} />
      <div className="boundary-legend muted">
        {what} · ● train ○ test · step {boundary.step}
      </div>
    </div>
  );
}

function valueRange(b: BoundaryFrame): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const row of b.z)
    for (const v of row) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  for (const p of [...b.points.train, ...b.points.test])
    [lo, hi] = [Math.min(lo, p[2]), Math.max(hi, p[2])];
  return lo <= hi ? [lo, hi] : [0, 1];
}

/** One feature, regression: the samples as (x, y) and the model's curve through them. */
function drawCurve(ctx: CanvasRenderingContext2D, b: BoundaryFrame) {
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
  const px = (v: number) => ((v - xs[0]) / (xs[xs.length - 1] - xs[0] || 1)) * SIZE;
  const py = (v: number) => SIZE - ((v - lo) / (hi - lo)) * SIZE;
  ctx.fillStyle = "#fafbfc";
  ctx.fillRect(0, 0, SIZE, SIZE);
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

export function drawBoundary(ctx: CanvasRenderingContext2D, b: BoundaryFrame) {
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
  const off = document.createElement("canvas");
  off.width = n0;
  off.height = n1;
  off.getContext("2d")?.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = !!range;
  ctx.drawImage(off, 0, 0, SIZE, SIZE);
  const [x0lo, x0hi] = [b.x0[0], b.x0[n0 - 1]];
  const [x1lo, x1hi] = [b.x1[0], b.x1[n1 - 1]];
  const px = (v: number) => ((v - x0lo) / (x0hi - x0lo || 1)) * SIZE;
  const py = (v: number) => SIZE - ((v - x1lo) / (x1hi - x1lo || 1)) * SIZE;
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
