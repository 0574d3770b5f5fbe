import { useLayoutEffect, useRef } from "react";
import { drawBoundary, fmt, prepare, BOUNDARY_SIZE as SIZE, valueRange } from "./draw";
import { isLightBoundary } from "./light";
import { drawBoundaryInWorker } from "./live";
import { PlotAxes } from "./PlotAxes";
import { useTrain } from "./store";

/**
 * The model's prediction over the plane of a 2-D dataset, with the training points (filled)
 * and test points (rings): a decision boundary for classification, a fit (colour = predicted
 * value, point colour = true value) for regression. Updated live from `boundary` frames: the
 * live worker draws them into the canvas (the page gets them light, without the grid and the
 * points); without a worker the page draws them.
 */
export function BoundaryView() {
  const boundary = useTrain((s) => s.boundary);
  const hasRun = useTrain((s) => s.run !== null);
  const canvas = useRef<HTMLCanvasElement>(null);

  const shown = boundary !== null;

  // Handed over to the worker once, while a boundary is shown.
  useLayoutEffect(() => {
    const c = canvas.current;
    if (!shown || !c) return;
    return drawBoundaryInWorker(c) ?? undefined;
  }, [shown]);

  useLayoutEffect(() => {
    const c = canvas.current;
    if (!c || !boundary || isLightBoundary(boundary)) return;
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
        ? "fit: prediction ȳ over x"
        : `fit: ${fmt(range?.[0])} … ${fmt(range?.[1])}`;
  return (
    <div
      className="boundary"
      data-testid="boundary-view"
      data-step={boundary.step}
      data-kind={boundary.kind}
    >
      {/* square, and no wider than its column (a narrow dock scales it down) */}
      <PlotAxes frame={boundary}>
        <canvas ref={canvas} style={{ width: SIZE, maxWidth: "100%", aspectRatio: "1 / 1" }} />
      </PlotAxes>
      <div className="boundary-legend muted">
        {what} · ● train ○ test · step {boundary.step}
      </div>
    </div>
  );
}
