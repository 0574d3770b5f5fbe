import { memo, useEffect, useLayoutEffect, useRef } from "react";
import { drawNode, fmt, NODE_H, NODE_W, prepare } from "./draw";
import { drawNodeInWorker, setWorkerMode, watchVisible } from "./live";
import { type LiveMode, type TrainState, useTrain } from "./store";
import "./train.css";
import { drawnOf, shownAs } from "./shown";
import { isHeld, type NodeSummary, type TensorSummary } from "./types";

/**
 * The compact live view under a node: its value and/or gradient over the last batch, as a
 * histogram (or, for a small per-sample tensor, a heatmap of the first sample; for an image-like
 * one, its channel maps), with the norms; `data-kind` and the hover text say which (shown.ts). Snapshots never re-render it through React. Its canvas is handed over to the live
 * worker, which draws it from every snapshot while it is on screen (live.ts); the page only
 * writes the step and norms into data attributes from its own node's summary (the tooltip's
 * statistics when the pointer comes over it). Without a worker it draws the canvas itself,
 * again only while on screen. It is absolutely placed so the node never changes size (React
 * Flow would re-measure it).
 */
function NodeLiveImpl({ id }: { id: string }) {
  const present = useTrain((s) => id in s.nodes);
  const mode = useTrain((s) => s.liveMode);
  const diverged = useTrain((s) => s.run?.status === "diverged" && s.run.divergedNode === id);
  const held = useTrain((s) => diverged && isHeld(s.run));
  const reason = useTrain((s) => (diverged ? (s.run?.reason ?? null) : null));
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => setWorkerMode(mode), [mode]);

  useLayoutEffect(() => {
    const el = box.current;
    const c = canvas.current;
    if (!present || !el || !c) return;
    const inWorker = drawNodeInWorker(id, c, el);
    let visible = true;
    let last: NodeSummary | undefined;
    let lastMode: LiveMode | undefined;
    let drawn: NodeSummary | undefined;
    let step = "";
    const paint = () => {
      const s = useTrain.getState();
      const summary = s.nodes[id];
      if (!summary || !visible || (summary === drawn && s.liveMode === lastMode)) return;
      drawn = summary;
      lastMode = s.liveMode;
      const ctx = prepare(c, NODE_W, NODE_H);
      if (ctx) drawNode(ctx, summary, s.liveMode);
    };
    const update = (s: TrainState) => {
      const summary = s.nodes[id];
      if (!inWorker && s.liveMode !== lastMode) paint();
      if (!summary || summary === last) return;
      last = summary;
      const at = String(s.snapStep ?? "");
      if (at !== step) el.dataset.step = step = at;
      const kind = drawnOf(summary.value).kind;
      if (el.dataset.kind !== kind) {
        el.dataset.kind = kind; // what the canvas draws (scalar, data, maps, hist): tests, styles
        el.setAttribute("aria-label", `${id}: ${shownAs(summary, s.liveMode)}`);
      }
      el.dataset.valueNorm = String(summary.value.norm ?? "");
      el.dataset.gradNorm = String(summary.grad?.norm ?? "");
      const bad = (summary.value.nonfinite ?? 0) + (summary.grad?.nonfinite ?? 0);
      if (bad > 0 !== el.classList.contains("has-nonfinite")) {
        el.classList.toggle("has-nonfinite", bad > 0);
      }
      if (!inWorker) paint();
    };
    update(useTrain.getState());
    const unsub = useTrain.subscribe(update);
    // The tooltip's numbers: written when the pointer comes over the view, not per snapshot.
    const title = () => {
      const s = useTrain.getState();
      el.title = tooltip(id, s.nodes[id], s.liveMode);
      el.setAttribute("aria-label", el.title); // the same numbers for a screen reader
    };
    el.addEventListener("pointerenter", title);
    el.addEventListener("focus", title);
    // Drawn by the page: only while on screen, and at once when it comes back into view.
    const unwatch = inWorker
      ? null
      : watchVisible(el, (v) => {
          visible = v;
          if (v) paint();
        });
    return () => {
      unsub();
      el.removeEventListener("pointerenter", title);
      el.removeEventListener("focus", title);
      unwatch?.();
      inWorker?.();
    };
  }, [id, present]);

  if (!present && !diverged) return null;
  return (
    <>
      {present && (
        <div
          ref={box}
          className="node-live nodrag"
          data-testid={`node-live-${id}`}
          data-mode={mode}
          role="img"
          aria-label={`${id}: live values over the last batch`}
        >
          <canvas ref={canvas} className="node-live-canvas" width={NODE_W} height={NODE_H} />
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

function tooltip(id: string, n: NodeSummary | undefined, mode: LiveMode) {
  const line = (name: string, s?: TensorSummary | null) =>
    s
      ? `${name}: mean ${fmt(s.mean)}  std ${fmt(s.std)}  min ${fmt(s.min)}  max ${fmt(s.max)}  ‖·‖ ${fmt(s.norm)}${s.nonfinite ? `  (${s.nonfinite} non-finite)` : ""}`
      : `${name}: —`;
  return `${id}: ${shownAs(n, mode)}\n${line("value", n?.value)}\n${line("gradient ∂L/∂value", n?.grad)}`;
}

export const NodeLive = memo(NodeLiveImpl);
