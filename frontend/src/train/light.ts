// Light frames: what the page gets of a snapshot or a boundary frame when the live worker
// (live.worker.ts) draws the views. A light summary keeps a tensor's statistics (mean, std,
// min, max, norm, non-finite count: the node views' data attributes and tooltips, the edge
// levels) and drops its histogram, values, matrix and channel maps; a light parameter keeps only what the
// edges' weight levels need. The nodes asked for in full (the inspector's, `wantFull` in
// live.ts) come whole. A light boundary frame keeps its step, kind and (for a regression) the
// range of its colours, not the grid and the points.
import { valueRange } from "./draw";
import { drawnOf } from "./shown";
import type { BoundaryFrame, NodeSummary, SnapshotFrame, TensorSummary } from "./types";

const NO_HIST = { edges: [], counts: [] };

/** A summary without its histogram and values (see `lighten`). */
export const isLight = (s: TensorSummary | null | undefined) =>
  !!s && (s as { light?: boolean }).light === true;

/** A boundary frame without its grid and points (the worker draws it). */
export const isLightBoundary = (b: BoundaryFrame | null | undefined) =>
  !!b && (b as { light?: boolean }).light === true;

/** A summary's statistics without its histogram, values, matrix and maps, marked `light`; it
 * keeps what the view draws (`drawn`: the view's data-kind and hover text). */
function light(s: TensorSummary): TensorSummary {
  const { hist: _hist, data: _data, matrix: _matrix, maps: _maps, ...stats } = s;
  return { ...stats, hist: NO_HIST, drawn: drawnOf(s), light: true } as TensorSummary;
}

const lightNode = (n: NodeSummary): NodeSummary => ({
  value: light(n.value),
  grad: n.grad ? light(n.grad) : n.grad,
});

/** A parameter's summary as the page needs it when its block is not inspected: the edges'
 * weight levels come from its norm and size. */
const lightParam = (s: TensorSummary): TensorSummary =>
  ({
    shape: s.shape,
    batch: s.batch,
    nonfinite: s.nonfinite,
    norm: s.norm,
    hist: NO_HIST,
    light: true,
  }) as TensorSummary;

function lightParams(
  ps: Record<string, Record<string, TensorSummary>> | undefined,
  keep: Set<string>,
): Record<string, Record<string, TensorSummary>> | undefined {
  if (!ps) return ps;
  const out: Record<string, Record<string, TensorSummary>> = {};
  for (const [id, p] of Object.entries(ps)) {
    if (keep.has(id)) out[id] = p;
    else {
      const q: Record<string, TensorSummary> = {};
      for (const [name, s] of Object.entries(p)) q[name] = lightParam(s);
      out[id] = q;
    }
  }
  return out;
}

/** The snapshot the page gets: full summaries for the nodes in `keep`, light ones else. */
export function lighten(snap: SnapshotFrame, keep: Set<string>): SnapshotFrame {
  const nodes: Record<string, NodeSummary> = {};
  for (const [key, n] of Object.entries(snap.nodes ?? {})) {
    nodes[key] = keep.has(key.split(":")[0]) ? n : lightNode(n);
  }
  const out: SnapshotFrame = { ...snap, nodes, params: lightParams(snap.params, keep) ?? {} };
  if (snap.param_grads) out.param_grads = lightParams(snap.param_grads, keep);
  return out;
}

/** A boundary frame without its grid and points: the page shows its step, kind and range. */
export function lightBoundary(b: BoundaryFrame): BoundaryFrame {
  return {
    ...b,
    x0: [],
    x1: [],
    z: [],
    points: { train: [], test: [] },
    ...(b.kind === "value" ? { range: valueRange(b) } : {}),
    light: true,
  } as BoundaryFrame;
}
