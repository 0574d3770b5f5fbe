// Framing a graph so its text can be read (issue 16): node titles are 13 px, so the view never
// zooms out below 12/13 to fit; a graph wider or taller than the canvas at that zoom is shown
// from its start (its inputs, left) and panned to, not shrunk. Huge graphs (an overview is
// what one wants there) are fitted whole, as before.
import type { ReactFlowInstance } from "@xyflow/react";

export const READABLE_ZOOM = 12 / 13;
const MAX_ZOOM = 1.25;
const OVERVIEW_NODES = 60;
const PAD = 40;

type Box = { x: number; y: number; width: number; height: number };

/** The viewport that shows `bounds` in a `w` × `h` pane at a readable zoom. */
export function readableViewport(bounds: Box, w: number, h: number) {
  const fit = Math.min((w - 2 * PAD) / bounds.width, (h - 2 * PAD) / bounds.height);
  const zoom = Math.min(MAX_ZOOM, Math.max(READABLE_ZOOM, fit));
  const place = (start: number, size: number, pane: number) =>
    size * zoom <= pane - 2 * PAD
      ? (pane - size * zoom) / 2 - start * zoom // fits: centred
      : PAD - start * zoom; // too big: from its start
  return {
    x: place(bounds.x, bounds.width, w),
    y: place(bounds.y, bounds.height, h),
    zoom,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: any node and edge type
export function fitReadable(rf: ReactFlowInstance<any, any>, duration = 0) {
  const nodes = rf.getNodes();
  if (!nodes.length) return;
  const pane = document.querySelector(".react-flow")?.getBoundingClientRect();
  if (!pane || nodes.length > OVERVIEW_NODES) {
    void rf.fitView({ padding: 0.2, maxZoom: MAX_ZOOM, duration });
    return;
  }
  void rf.setViewport(readableViewport(rf.getNodesBounds(nodes), freeWidth(pane), pane.height), {
    duration,
  });
}

/** The width of the pane the explain panel leaves uncovered (it overlays the canvas's right
 * side on a narrow screen or a projector): the graph is framed in that part. */
function freeWidth(pane: DOMRect): number {
  const panel = document.querySelector(".cx-panel")?.getBoundingClientRect();
  if (!panel || panel.left <= pane.left || panel.left >= pane.right) return pane.width;
  return Math.max(2 * PAD + 80, panel.left - pane.left);
}
