import { useEffect, useState } from "react";
import { useFollow } from "./follow";
import { fmt } from "./tex";

interface RunInfo {
  status: string;
  step: number;
  loss: number | null;
}

/** The teacher's run, watched read-only over its stream (no edit token: no control). */
export function RunWatch() {
  const runId = useFollow((s) => s.runId);
  const [info, setInfo] = useState<RunInfo | null>(null);
  useEffect(() => {
    setInfo(null);
    if (!runId) return;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(
      `${scheme}://${window.location.host}/api/runs/${encodeURIComponent(runId)}/stream?rate=0`,
    );
    ws.onmessage = (ev) => {
      let f: Record<string, unknown>;
      try {
        f = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      setInfo((cur) => {
        const base = cur ?? { status: "", step: 0, loss: null };
        if (f.type === "hello" || f.type === "status") {
          return {
            ...base,
            status: String(f.status ?? base.status),
            step: Number(f.step ?? base.step),
          };
        }
        if (f.type === "metrics" && Array.isArray(f.points) && f.points.length) {
          const p = f.points[f.points.length - 1] as { step: number; loss: number };
          return { ...base, step: p.step, loss: p.loss };
        }
        return base;
      });
    };
    return () => ws.close();
  }, [runId]);
  if (!runId || !info) return null;
  return (
    <span className="cx-runwatch" data-testid="follow-run" data-status={info.status}>
      run {info.status} · step {info.step}
      {info.loss !== null ? ` · loss ${fmt(info.loss)}` : ""}
    </span>
  );
}
