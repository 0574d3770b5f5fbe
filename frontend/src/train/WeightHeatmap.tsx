import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { drawHeatmap, flatData, fmt, prepare } from "./draw";
import { isLight } from "./light";
import { wantFull } from "./live";
import { useTrain } from "./store";
import "./train.css";
import type { TensorSummary } from "./types";

const MAX_W = 270;
const MAX_H = 180;

/**
 * In the inspector, while a run is watched: the selected block's trainable parameters as
 * heatmaps (a Linear layer's W is [out, in]: one row per output unit), or their gradients,
 * and the live statistics of its value and gradient. Snapshots reach the page light (live.ts):
 * this asks for its block's summaries in full.
 */
export function WeightHeatmap({ id }: { id: string }) {
  const params = useTrain((s) => s.params[id]);
  const grads = useTrain((s) => s.paramGrads[id]);
  const node = useTrain((s) => s.nodes[id]);
  const step = useTrain((s) => s.snapStep);
  const [show, setShow] = useState<"value" | "grad">("value");
  useEffect(() => wantFull(id), [id]);
  if (!params && !node) return null;
  const shown = show === "grad" ? grads : params;
  return (
    <section className="weights" data-testid={`live-inspector-${id}`}>
      <h3>
        Live <span className="muted">step {step ?? "—"}</span>
      </h3>
      {node && (
        <table className="live-stats">
          <thead>
            <tr>
              <th />
              <th>mean</th>
              <th>std</th>
              <th>min</th>
              <th>max</th>
              <th>‖·‖</th>
            </tr>
          </thead>
          <tbody>
            <StatsRow label="value" s={node.value} />
            <StatsRow label="grad" s={node.grad ?? undefined} />
          </tbody>
        </table>
      )}
      {params && (
        <>
          <fieldset className="seg small">
            <legend className="sr-only">Show parameters or their gradients</legend>
            <button
              type="button"
              aria-pressed={show === "value"}
              onClick={() => setShow("value")}
              data-testid="weights-show-value"
            >
              weights
            </button>
            <button
              type="button"
              aria-pressed={show === "grad"}
              onClick={() => setShow("grad")}
              data-testid="weights-show-grad"
            >
              gradients
            </button>
          </fieldset>
          {Object.keys(params).map((name) => (
            <ParamMap key={name} id={id} name={name} s={shown?.[name]} />
          ))}
        </>
      )}
    </section>
  );
}

function StatsRow({ label, s }: { label: string; s?: TensorSummary }) {
  return (
    <tr>
      <th>{label}</th>
      <td>{fmt(s?.mean)}</td>
      <td>{fmt(s?.std)}</td>
      <td>{fmt(s?.min)}</td>
      <td>{fmt(s?.max)}</td>
      <td>{fmt(s?.norm)}</td>
    </tr>
  );
}

function ParamMap({ id, name, s }: { id: string; name: string; s?: TensorSummary }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const rows = s ? matrixOf(s) : null;
  const nr = rows?.length ?? 0;
  const nc = rows?.[0]?.length ?? 0;
  const cell = nr && nc ? Math.max(2, Math.min(14, MAX_W / nc, MAX_H / nr)) : 0;
  const w = Math.round(cell * nc);
  const h = Math.round(cell * nr);
  useLayoutEffect(() => {
    const c = canvas.current;
    if (!c || !rows || !w || !h) return;
    const ctx = prepare(c, w, h);
    if (ctx) drawHeatmap(ctx, rows, 0, 0, w, h);
  }, [rows, w, h]);
  return (
    <div className="param-map" data-testid={`weight-heatmap-${id}-${name}`}>
      <div className="param-map-head">
        <b>{name}</b> <span className="muted">[{s?.shape.join(", ")}]</span>
        <span className="muted">
          {" "}
          range {fmt(s?.min)} … {fmt(s?.max)}
        </span>
      </div>
      {rows ? (
        <canvas ref={canvas} style={{ width: w, height: h }} />
      ) : isLight(s) ? (
        <div className="muted">…</div>
      ) : (
        <div className="muted">too large to draw; ‖·‖ {fmt(s?.norm)}</div>
      )}
    </div>
  );
}

function matrixOf(s: TensorSummary): (number | null)[][] | null {
  if (s.matrix) return s.matrix;
  const flat = flatData(s.data);
  return flat ? [flat] : null;
}
