import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { openRunAsGraph } from "../store/documents";
import { trainApi } from "./api";
import { fmt, prepare } from "./draw";
import { runLabel } from "./runs";
import { useTrain } from "./store";
import type { RunRead } from "./types";

/** Runs of this graph (stored on the server, plus the ones this browser started on the
 * unsaved draft), newest first, each with its loss curve; open one, or tick up to two to
 * compare their curves with the current run's on the chart. */
export function HistoryPanel() {
  const history = useTrain((s) => s.history);
  const status = useTrain((s) => s.historyStatus);
  const current = useTrain((s) => s.run?.id);
  const compared = useTrain((s) => s.compared);
  const refresh = useTrain((s) => s.refreshHistory);
  const toggle = useTrain((s) => s.toggleCompare);
  const attach = useTrain((s) => s.attach);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  if (!history.length) {
    return (
      <p className="muted small-text" data-testid="history-empty">
        {status === "loading"
          ? "Loading…"
          : status === "error"
            ? "Could not load the runs."
            : "No runs of this graph yet."}
      </p>
    );
  }
  return (
    <ul className="history" data-testid="history-list">
      {history.map((r) => (
        <li
          key={r.id}
          className={r.id === current ? "is-current" : undefined}
          data-testid={`history-item-${r.id}`}
        >
          <label className="history-compare" title="Compare its loss curves on the chart">
            <input
              type="checkbox"
              data-testid={`history-compare-${r.id}`}
              checked={compared.some((c) => c.id === r.id)}
              disabled={r.id === current}
              onChange={() => void toggle(r.id)}
            />
          </label>
          <div className="history-main">
            <div className="history-label">
              <span className={`run-dot status-${r.status}`} title={r.status} />
              {runLabel(r)}
            </div>
            <div className="muted small-text">
              {r.dataset.name} · {r.status}
              {r.status === "diverged" && r.live ? " (paused)" : ""} · step {r.step}
            </div>
          </div>
          <Sparkline run={r} />
          <button
            type="button"
            className="btn tiny"
            data-testid={`history-as-graph-${r.id}`}
            title="Open what this run trained as a graph: its trained weights, dataset and settings"
            onClick={() => void openRunAsGraph(r.id)}
          >
            as graph
          </button>
          {r.id !== current ? (
            <button
              type="button"
              className="btn tiny"
              data-testid={`history-open-${r.id}`}
              onClick={() => void attach(r.id)}
            >
              open
            </button>
          ) : (
            <span className="muted small-text">shown</span>
          )}
        </li>
      ))}
    </ul>
  );
}

const curves = new Map<string, { step: number; points: number[]; last: number | null }>();

function Sparkline({ run }: { run: RunRead }) {
  const [curve, setCurve] = useState(curves.get(run.id));
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const cached = curves.get(run.id);
    if (cached && cached.step === run.step) return;
    let gone = false;
    trainApi
      .metrics(run.id)
      .then((m) => {
        const losses = m.points
          .map((p) => p.train_loss ?? p.loss)
          .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
        const stride = Math.max(1, Math.floor(losses.length / 60));
        const points = losses.filter((_, i) => i % stride === 0);
        const c = { step: run.step, points, last: losses.at(-1) ?? null };
        curves.set(run.id, c);
        if (!gone) setCurve(c);
      })
      .catch(() => undefined);
    return () => {
      gone = true;
    };
  }, [run.id, run.step]);
  useLayoutEffect(() => {
    const c = canvas.current;
    if (!c || !curve?.points.length) return;
    const ctx = prepare(c, 70, 22);
    if (!ctx) return;
    const p = curve.points;
    const lo = Math.min(...p);
    const hi = Math.max(...p);
    ctx.strokeStyle = "#2f6fdb";
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    p.forEach((v, i) => {
      const x = (i / Math.max(1, p.length - 1)) * 70;
      const y = 21 - ((v - lo) / (hi - lo || 1)) * 20;
      if (i) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
    });
    ctx.stroke();
  }, [curve]);
  return (
    <div className="sparkline" title={`final loss ${fmt(curve?.last)}`}>
      <canvas ref={canvas} style={{ width: 70, height: 22 }} />
      <span className="small-text">{fmt(curve?.last)}</span>
    </div>
  );
}
