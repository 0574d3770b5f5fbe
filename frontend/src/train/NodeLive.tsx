import { memo, useLayoutEffect, useRef } from "react";
import {
  asGrid,
  drawHeatmap,
  drawHistogram,
  flatData,
  fmt,
  GRAD_COLOR,
  prepare,
  VALUE_COLOR,
} from "./draw";
import { type LiveMode, type TrainState, useTrain } from "./store";
import "./train.css";
import { isHeld, type NodeSummary, type TensorSummary } from "./types";

const W = 120;
const H = 40;
const PLOT = 28; // the plot's height; the norms are written below it

/**
 * The compact live view under a node: its value and/or gradient over the last batch, as a
 * histogram (or, for a small per-sample tensor, a heatmap of the first sample), with the
 * norms. Snapshots never re-render it through React: it subscribes to its own node's
 * summary and redraws its canvas directly (zustand's transient updates), so 20 snapshots a
 * second on a big graph cost one canvas draw per node and no layout. It is absolutely placed
 * so the node never changes size (React Flow would re-measure it).
 */
function NodeLiveImpl({ id }: { id: string }) {
  const present = useTrain((s) => id in s.nodes);
  const mode = useTrain((s) => s.liveMode);
  const diverged = useTrain((s) => s.run?.status === "diverged" && s.run.divergedNode === id);
  const held = useTrain((s) => diverged && isHeld(s.run));
  const reason = useTrain((s) => (diverged ? (s.run?.reason ?? null) : null));
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  useLayoutEffect(() => {
    if (!present) return;
    let last: NodeSummary | undefined;
    let titled = 0;
    const paint = (s: TrainState) => {
      const summary = s.nodes[id];
      if (!summary || summary === last) return;
      last = summary;
      const el = box.current;
      const c = canvas.current;
      if (!el || !c) return;
      el.dataset.step = String(s.snapStep ?? "");
      el.dataset.valueNorm = String(summary.value.norm ?? "");
      el.dataset.gradNorm = String(summary.grad?.norm ?? "");
      const bad = (summary.value.nonfinite ?? 0) + (summary.grad?.nonfinite ?? 0);
      el.classList.toggle("has-nonfinite", bad > 0);
      const now = performance.now();
      if (now - titled > 1000) {
        titled = now; // the tooltip's numbers, refreshed once a second
        el.title = tooltip(id, summary);
      }
      const ctx = prepare(c, W, H);
      if (ctx) drawNode(ctx, summary, mode);
    };
    paint(useTrain.getState());
    return useTrain.subscribe(paint);
  }, [id, present, mode]);

  if (!present && !diverged) return null;
  return (
    <>
      {present && (
        <div
          ref={box}
          className="node-live nodrag"
          data-testid={`node-live-${id}`}
          data-mode={mode}
        >
          <canvas ref={canvas} className="node-live-canvas" width={W} height={H} />
          {mode !== "value" && (
            <span className="node-live-key" data-testid={`node-live-grad-${id}`}>
              ∂
            </span>
          )}
        </div>
      )}
      {diverged && (
        <>
          <div className="node-diverged-ring" data-testid={`diverged-${id}`} />
          <div className="node-diverged-hint nodrag" data-testid="diverged-hint">
            <b>Diverged here first.</b> Values became NaN or ∞ in this block. The learning rate is
            probably too high: try a tenth of it
            {held ? " — the run is paused on its last finite weights, ready to resume." : "."}
            {reason && (
              <span className="node-diverged-reason" data-testid="diverged-reason">
                {reason}
              </span>
            )}
          </div>
        </>
      )}
    </>
  );
}

/** Plot(s) on top, norms below; a scalar (a cost) is written as a number instead. */
export function drawNode(ctx: CanvasRenderingContext2D, n: NodeSummary, mode: LiveMode) {
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

function plot(
  ctx: CanvasRenderingContext2D,
  s: TensorSummary,
  color: string,
  y: number,
  h: number,
  mode: LiveMode,
) {
  const values = flatData(s.data);
  if (values && values.length >= 4) {
    drawHeatmap(ctx, asGrid(values, W / h), 0, y + 1, W, h - 2);
    if (mode === "both") {
      ctx.fillStyle = color;
      ctx.fillRect(0, y + 1, 3, h - 2);
    }
  } else {
    drawHistogram(ctx, s, 0, y + 1, W, h - 2, color);
  }
}

function tooltip(id: string, n?: NodeSummary) {
  const line = (name: string, s?: TensorSummary | null) =>
    s
      ? `${name}: mean ${fmt(s.mean)}  std ${fmt(s.std)}  min ${fmt(s.min)}  max ${fmt(s.max)}  ‖·‖ ${fmt(s.norm)}${s.nonfinite ? `  (${s.nonfinite} non-finite)` : ""}`
      : `${name}: —`;
  return `${id} over the last batch\n${line("value", n?.value)}\n${line("gradient ∂L/∂value", n?.grad)}`;
}

export const NodeLive = memo(NodeLiveImpl);
