// Connected quick-add: where a quick-added node goes and what it is wired to. Opened by `/`
// (next to the selected node, wired from it), by dropping a wire on empty canvas (there, wired
// to the wire's end, as in ComfyUI) and by a double-click on the canvas (there).
import { useReactFlow } from "@xyflow/react";
import { useCallback } from "react";
import { create } from "zustand";
import type { OpNode } from "../lib/doc";
import { absolutePosition } from "../lib/expand";
import { lastPointer } from "../panels/pointer";
import { addDefaults } from "../smart/defaults";
import { dataFacts } from "../smart/facts";
import { connectSmart } from "../smart/store";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";

/** The end a dropped wire started from. */
export interface WireEnd {
  node: string;
  handle: string | null;
  /** "source": an output port (the new node reads it); "target": an input port (it feeds it) */
  type: "source" | "target";
}

interface QuickAddState {
  /** screen point chosen by a double-click or a wire drop */
  at: { x: number; y: number } | null;
  from: WireEnd | null;
}

export const useQuickAdd = create<QuickAddState>()(() => ({ at: null, from: null }));

/** Opens quick-add; with no point, the new node goes next to the selected one. */
export function openQuickAdd(
  at: { x: number; y: number } | null = null,
  from: WireEnd | null = null,
) {
  useQuickAdd.setState({ at, from });
  useUi.getState().openDialog("quickadd");
}

const GAP = 80;
const SIZE = { w: 140, h: 60 };
const HALF = { x: 60, y: 28 };

const box = (n: OpNode) => ({
  x: n.position.x,
  y: n.position.y,
  w: n.measured?.width ?? SIZE.w,
  h: n.measured?.height ?? SIZE.h,
});

/** Right of `anchor`, moved down until it overlaps no node. */
export function besideOf(anchor: OpNode, nodes: OpNode[]): { x: number; y: number } {
  const a = box(anchor);
  const pos = { x: a.x + a.w + GAP, y: a.y };
  const hits = () =>
    nodes.some((n) => {
      const b = box(n);
      return (
        pos.x < b.x + b.w + 10 &&
        pos.x + SIZE.w + 10 > b.x &&
        pos.y < b.y + b.h + 10 &&
        pos.y + SIZE.h + 10 > b.y
      );
    });
  for (let k = 0; k < 50 && hits(); k++) pos.y += SIZE.h + 20;
  return pos;
}

/** The first input port of `node` that nothing feeds yet (else the first). */
function freeInput(node: string): string | null {
  const s = useEditor.getState();
  const n = s.nodes.find((m) => m.id === node);
  const ports = n ? (s.ops[n.data.op]?.inputs ?? []) : [];
  const fed = new Set(s.edges.filter((e) => e.target === node).map((e) => e.targetHandle));
  return (ports.find((p) => !fed.has(p.name)) ?? ports[0])?.name ?? null;
}

const firstOutput = (node: string): string | null => {
  const s = useEditor.getState();
  const n = s.nodes.find((m) => m.id === node);
  return (n && s.ops[n.data.op]?.outputs[0]?.name) || null;
};

const hasOutputs = (node: string) => {
  const s = useEditor.getState();
  const n = s.nodes.find((m) => m.id === node);
  return (n ? (s.ops[n.data.op]?.outputs.length ?? 0) : 0) > 0;
};

/** Places `op` as the pending quick-add asks, wires it, selects it; returns its id. */
export function useQuickPlace() {
  const rf = useReactFlow();
  return useCallback(
    (op: string) => {
      const { at, from } = useQuickAdd.getState();
      useQuickAdd.setState({ at: null, from: null });
      const s = useEditor.getState();
      const spec = s.ops[op];
      if (!spec) return null;
      const selected = s.nodes.filter((n) => n.selected);
      const anchor = !at && !from && selected.length === 1 ? selected[0] : null;
      let pos: { x: number; y: number };
      // beside a block inside an open instance: on the canvas, so the new one lands in it too
      if (anchor)
        pos = besideOf({ ...anchor, position: absolutePosition(anchor, s.nodes) }, s.nodes);
      else {
        const screen = at ?? lastPointer() ?? paneCentre();
        const p = rf.screenToFlowPosition(screen);
        pos = { x: p.x - HALF.x, y: p.y - HALF.y };
      }
      const id = s.addNode(op, pos, addDefaults(spec, dataFacts()));
      if (!id) return null;
      keepInView(rf, { x: pos.x + SIZE.w / 2, y: pos.y + SIZE.h / 2 });
      const source = from?.type === "target" ? id : (from?.node ?? anchor?.id);
      const target = from?.type === "target" ? from.node : id;
      if (source && target && hasOutputs(source)) {
        const sourceHandle = from?.type === "source" ? from.handle : firstOutput(source);
        const targetHandle = from?.type === "target" ? from.handle : freeInput(target);
        if (targetHandle) {
          const refusal = connectSmart({ source, sourceHandle, target, targetHandle });
          if (refusal) useUi.getState().notify("error", refusal);
        }
      }
      useEditor.getState().selectOnly([id]);
      // Keyboard users continue from the new node: Tab reaches its ports next.
      focusWhenDrawn(`.react-flow__node[data-id="${CSS.escape(id)}"]`);
      return id;
    },
    [rf],
  );
}

/** Pans (not zooms) so a point placed off the visible canvas comes into view. */
function keepInView(rf: ReturnType<typeof useReactFlow>, p: { x: number; y: number }) {
  const pane = document.querySelector(".react-flow")?.getBoundingClientRect();
  if (!pane) return;
  const at = rf.flowToScreenPosition(p);
  const m = 60;
  const out =
    at.x < pane.left + m || at.x > pane.right - m || at.y < pane.top + m || at.y > pane.bottom - m;
  if (out) void rf.setCenter(p.x, p.y, { zoom: rf.getZoom(), duration: 0 });
}

function paneCentre() {
  const pane = document.querySelector(".react-flow")?.getBoundingClientRect();
  return pane
    ? { x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 }
    : { x: window.innerWidth / 2, y: window.innerHeight / 2 };
}

/** Focuses the element once React Flow has drawn it: a new node is in the DOM at once but
 * hidden (unfocusable) until it has been measured, a frame or two later. */
export function focusWhenDrawn(selector: string, frames = 30) {
  // Meanwhile the user went on (a dialog, a field): the focus is theirs. (On the first call
  // the closing dialog's field still has it.)
  const active = document.activeElement;
  const busy = useUi.getState().dialog || /^(INPUT|TEXTAREA|SELECT)$/.test(active?.tagName ?? "");
  if (frames < 30 && busy) return;
  const el = document.querySelector<HTMLElement>(selector);
  el?.focus();
  if (el && document.activeElement === el) return;
  if (frames > 0) requestAnimationFrame(() => focusWhenDrawn(selector, frames - 1));
}
