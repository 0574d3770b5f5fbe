import { useReactFlow } from "@xyflow/react";
import { useCallback } from "react";
import { addDefaults } from "../smart/defaults";
import { dataFacts } from "../smart/facts";
import { useEditor } from "../store/editor";

export const OP_MIME = "application/x-blockprop-op";

// Roughly half a block, so a dropped node lands centred on the pointer.
const HALF = { x: 60, y: 28 };

/** Adds an op at a screen point, or at the middle of the visible canvas when none is given. */
export function useAddOp() {
  const rf = useReactFlow();
  return useCallback(
    (op: string, screen?: { x: number; y: number }) => {
      let point = screen;
      if (!point) {
        const pane = document.querySelector(".react-flow")?.getBoundingClientRect();
        point = pane
          ? { x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 }
          : { x: window.innerWidth / 2, y: window.innerHeight / 2 };
      }
      const p = rf.screenToFlowPosition(point);
      let pos = { x: p.x - HALF.x, y: p.y - HALF.y };
      if (!screen) {
        // Clicking "add" repeatedly should not stack nodes exactly on top of each other.
        const taken = useEditor.getState().nodes.map((n) => n.position);
        for (
          let k = 0;
          k < 20 && taken.some((t) => Math.abs(t.x - pos.x) < 20 && Math.abs(t.y - pos.y) < 20);
          k++
        ) {
          pos = { x: pos.x + 30, y: pos.y + 30 };
        }
      }
      const spec = useEditor.getState().ops[op];
      const smart = spec ? addDefaults(spec, dataFacts()) : {};
      return useEditor.getState().addNode(op, pos, smart);
    },
    [rf],
  );
}
