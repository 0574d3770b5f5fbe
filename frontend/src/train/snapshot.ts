// A snapshot frame indexed for the canvas: each node's summary, and the gradient and weight
// magnitudes its edges and blocks are shaded by.
import type { NodeSummary, SnapshotFrame, TensorSummary } from "./types";

export interface Levels {
  /** 0..1 per value key ("node" or "node:port"): magnitude of dL/d(value), log-scaled */
  grad: Record<string, number>;
  /** 0..1 per node id: magnitude of its trainable parameters, log-scaled */
  weight: Record<string, number>;
}

function count(s: TensorSummary): number {
  const per = s.shape.reduce((a, b) => a * b, 1);
  return Math.max(1, per * (s.batch ?? 1));
}
const rms = (s: TensorSummary | null | undefined) =>
  s && typeof s.norm === "number" ? s.norm / Math.sqrt(count(s)) : null;

/** Magnitudes mapped to 0..1 on a log scale spanning three decades below the largest. */
function logLevels(raw: Record<string, number>): Record<string, number> {
  const max = Math.max(0, ...Object.values(raw));
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    out[k] = max > 0 && v > 0 ? Math.min(1, Math.max(0.04, 1 + Math.log10(v / max) / 3)) : 0;
  }
  return out;
}

/** A snapshot indexed for the canvas: summaries by node id (a node's first output when it
 * has several) and edge levels. */
export function indexSnapshot(snap: SnapshotFrame) {
  const nodes: Record<string, NodeSummary> = {};
  const grad: Record<string, number> = {};
  for (const [key, s] of Object.entries(snap.nodes)) {
    const id = key.split(":")[0];
    if (!(id in nodes) || key === id) nodes[id] = s;
    const g = rms(s.grad);
    if (g !== null) {
      grad[key] = g;
      if (!(id in grad) || key === id) grad[id] = g;
    }
  }
  const weight: Record<string, number> = {};
  for (const [id, ps] of Object.entries(snap.params ?? {})) {
    let sq = 0;
    let n = 0;
    for (const s of Object.values(ps)) {
      if (typeof s.norm !== "number") continue;
      sq += s.norm * s.norm;
      n += count(s);
    }
    if (n) weight[id] = Math.sqrt(sq / n);
  }
  return {
    nodes,
    params: snap.params ?? {},
    paramGrads: snap.param_grads ?? {},
    levels: { grad: logLevels(grad), weight: logLevels(weight) },
  };
}

/** The live views before a run's first frame. */
export const emptyLive = () => ({
  snapStep: null,
  nodes: {},
  params: {},
  paramGrads: {},
  levels: { grad: {}, weight: {} },
  boundary: null,
  stepsPerSec: null,
  lr: null,
});
