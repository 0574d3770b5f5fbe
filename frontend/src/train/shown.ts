// What a node's live view draws (draw.ts drawNode), named once: the drawing, the view's
// data-kind attribute and its hover text follow the same rule. The live worker hands the page
// light summaries without their values (light.ts), which carry this verdict in `drawn`.
import type { LiveMode } from "./store";
import type { NodeSummary, TensorSummary } from "./types";

/** scalar: its mean as a number; data: one sample's values as a heatmap; maps: one sample's
 * channel maps; hist: a histogram over the batch. */
export type DrawnKind = "scalar" | "data" | "maps" | "hist";

export interface Drawn {
  kind: DrawnKind;
  /** for maps: [channels, rows, columns] of what is drawn */
  dims?: [number, number, number];
}

/** How many numbers a nested list (a summary's `data`) holds. */
function count(data: unknown): number {
  if (data === undefined || data === null) return 0;
  if (!Array.isArray(data)) return typeof data === "number" ? 1 : 0;
  let n = 0;
  for (const d of data) n += Array.isArray(d) ? count(d) : 1;
  return n;
}

/** What drawNode draws for a summary (a light one says so in `drawn`). */
export function drawnOf(s: TensorSummary): Drawn {
  const given = (s as { drawn?: Drawn }).drawn;
  if (given) return given;
  if (s.shape.length === 0) return { kind: "scalar" };
  const maps = s.maps;
  if (maps?.length && maps[0].length && maps[0][0].length) {
    return { kind: "maps", dims: [maps.length, maps[0].length, maps[0][0].length] };
  }
  if (count(s.data) >= 4) return { kind: "data" };
  return { kind: "hist" };
}

/** What one plot of the view shows, by kind. */
function plotOf(d: Drawn): string {
  switch (d.kind) {
    case "data":
      return "one sample's values as a heatmap";
    case "maps": {
      const [c, h, w] = d.dims ?? [0, 0, 0];
      return `one sample's ${c} channel map${c === 1 ? "" : "s"} (${h}×${w})`;
    }
    default:
      return "a histogram over the last batch";
  }
}

/** The hover text's first words: what the view shows of a node's summary in a live mode. */
export function shownAs(n?: NodeSummary, mode: LiveMode = "value"): string {
  if (!n) return "no snapshot yet";
  const d = drawnOf(n.value);
  if (d.kind === "scalar") return "the mean over the last batch (∂: the gradient's)";
  const plot = plotOf(d);
  const norms = "; ‖v‖, ‖g‖: norms over the last batch";
  if (mode === "grad") return `${plot}, of the gradient ∂L/∂value${norms}`;
  if (mode === "both") return `${plot}: the value above, the gradient ∂L/∂value below${norms}`;
  return `${plot}${norms}`;
}
