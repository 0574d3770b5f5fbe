// Axis names for the boundary / fit plot: the dataset's own column names and the range each
// axis spans, so the plot reads without the notes at hand (issue 16).
import { type ReactNode, useEffect, useState } from "react";
import { fmt } from "./draw";
import { useTrain } from "./store";
import type { BoundaryFrame } from "./types";

const names = new Map<string, { features: string[]; target: string }>();

/** The run's dataset column names (fetched once per dataset; x0, x1, … until then). */
function useColumns(): { features: string[]; target: string } {
  const name = useTrain((s) => s.run?.dataset?.name ?? s.dataset.name);
  const [cols, setCols] = useState(() => names.get(name));
  useEffect(() => {
    if (names.has(name)) return setCols(names.get(name));
    const ctl = new AbortController();
    fetch(`/api/datasets/${encodeURIComponent(name)}?limit=1`, { signal: ctl.signal })
      .then((r) => (r.ok ? r.json() : null))
      .then((d: { feature_names?: string[]; target_names?: string[] | null } | null) => {
        if (!d?.feature_names) return;
        const got = { features: d.feature_names, target: d.target_names?.[0] ?? "y" };
        names.set(name, got);
        setCols(got);
      })
      .catch(() => undefined);
    return () => ctl.abort();
  }, [name]);
  return cols ?? { features: ["x0", "x1"], target: "y" };
}

const span = (v: number[] | undefined) =>
  v?.length ? `${fmt(v[0])} … ${fmt(v[v.length - 1])}` : "";

export function PlotAxes({ frame, children }: { frame: BoundaryFrame; children: ReactNode }) {
  const cols = useColumns();
  const f = frame as BoundaryFrame & { x0?: number[]; x1?: number[] };
  const x = cols.features[0] ?? "x0";
  const y = frame.kind === "curve" ? cols.target : (cols.features[1] ?? "x1");
  return (
    <div className="plot-axes">
      <span className="axis-y" data-testid="axis-y" title={`vertical axis: ${y}`}>
        {y}
        {frame.kind !== "curve" && f.x1?.length ? ` (${span(f.x1)})` : ""}
      </span>
      {children}
      <span className="axis-x" data-testid="axis-x" title={`horizontal axis: ${x}`}>
        {x}
        {f.x0?.length ? ` (${span(f.x0)})` : ""}
      </span>
    </div>
  );
}
