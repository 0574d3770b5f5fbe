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
import { type LiveMode, useTrain } from "./store";
import "./train.css";
import type { TensorSummary } from "./types";

const W = 120;
const H = 30;

/**
 * The compact live view under a node: its value and/or gradient over the last batch, as a
 * histogram (or, for a small per-sample tensor, a heatmap of the first sample), with the
 * norms. It subscribes to this node's summary only, and is absolutely placed so the node
 * never changes size (React Flow would re-measure it on every snapshot).
 */
function NodeLiveImpl({ id }: { id: string }) {
  const summary = useTrain((s) => s.nodes[id]);
  const mode = useTrain((s) => s.liveMode);
  const step = useTrain((s) => (s.nodes[id] ? s.snapStep : null));
  const diverged = useTrain((s) => s.run?.status === "diverged" && s.run.divergedNode === id);
  const canvas = useRef<HTMLCanvasElement>(null);

  const value = summary?.value;
  const grad = summary?.grad ?? null;
  const scalar = !!value && value.shape.length === 0;

  useLayoutEffect(() => {
    const c = canvas.current;
    if (!c || !value || scalar) return;
    const ctx = prepare(c, W, H);
    if (!ctx) return;
    const rows: [TensorSummary, string][] = [];
    if (mode !== "grad") rows.push([value, VALUE_COLOR]);
    if (mode !== "value" && grad) rows.push([grad, GRAD_COLOR]);
    if (!rows.length) return;
    const h = H / rows.length;
    rows.forEach(([s, color], i) => {
      draw(ctx, s, color, i * h, h, mode);
    });
  }, [value, grad, mode, scalar]);

  if (!summary && !diverged) return null;
  const showValue = mode !== "grad";
  const showGrad = mode !== "value";
  const bad = (value?.nonfinite ?? 0) + (grad?.nonfinite ?? 0);
  return (
    <>
      {summary && (
        <div
          className={`node-live nodrag${bad ? " has-nonfinite" : ""}`}
          data-testid={`node-live-${id}`}
          data-mode={mode}
          data-step={step ?? undefined}
          data-value-norm={value?.norm ?? undefined}
          data-grad-norm={grad?.norm ?? undefined}
          title={tooltip(id, value, grad)}
        >
          {scalar ? (
            <div className="node-live-scalar">
              {showValue && <span className="nl-v">{fmt(value?.mean)}</span>}
              {showGrad && grad && <span className="nl-g">∂ {fmt(grad.mean)}</span>}
            </div>
          ) : (
            <canvas ref={canvas} className="node-live-canvas" width={W} height={H} />
          )}
          {!scalar && (
            <div className="node-live-norms">
              {showValue && <span className="nl-v">‖v‖ {fmt(value?.norm)}</span>}
              {showGrad && (
                <span className="nl-g" data-testid={`node-live-grad-${id}`}>
                  ‖g‖ {grad ? fmt(grad.norm) : "—"}
                </span>
              )}
            </div>
          )}
          {bad > 0 && <span className="node-live-bad">{bad} non-finite</span>}
        </div>
      )}
      {diverged && (
        <>
          <div className="node-diverged-ring" data-testid={`diverged-${id}`} />
          <div className="node-diverged-hint nodrag" data-testid="diverged-hint">
            <b>Diverged here first.</b> Values became NaN or ∞ in this block. The learning rate is
            probably too high: try a tenth of it.
          </div>
        </>
      )}
    </>
  );
}

function draw(
  ctx: CanvasRenderingContext2D,
  s: TensorSummary,
  color: string,
  y: number,
  h: number,
  mode: LiveMode,
) {
  const values = flatData(s.data);
  if (values && values.length >= 4) {
    const rows = asGrid(values, W / h);
    drawHeatmap(ctx, rows, 0, y + 1, W, h - 2);
    if (mode === "both") {
      ctx.fillStyle = color;
      ctx.fillRect(0, y + 1, 3, h - 2);
    }
  } else {
    drawHistogram(ctx, s, 0, y + 1, W, h - 2, color);
  }
}

function tooltip(id: string, v?: TensorSummary, g?: TensorSummary | null) {
  const line = (name: string, s?: TensorSummary | null) =>
    s
      ? `${name}: mean ${fmt(s.mean)}  std ${fmt(s.std)}  min ${fmt(s.min)}  max ${fmt(s.max)}  ‖·‖ ${fmt(s.norm)}${s.nonfinite ? `  (${s.nonfinite} non-finite)` : ""}`
      : `${name}: —`;
  return `${id} over the last batch\n${line("value", v)}\n${line("gradient ∂L/∂value", g)}`;
}

export const NodeLive = memo(NodeLiveImpl);
