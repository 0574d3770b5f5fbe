import { useReactFlow } from "@xyflow/react";
import { useMemo } from "react";
import { topLevel } from "../lib/expand";
import { layoutGraph } from "../lib/layout";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { fitReadable } from "./readable";

/** Canvas commands shared by the top bar and the keyboard shortcuts. */
export function useCanvasCommands() {
  const rf = useReactFlow();
  return useMemo(
    () => ({
      fit: () => fitReadable(rf, 200),
      makeBlock: () => {
        const refusal = useEditor.getState().makeBlock();
        if (refusal) useUi.getState().notify("error", refusal);
      },
      unpack: () => {
        const refusal = useEditor.getState().unpack();
        if (refusal) useUi.getState().notify("error", refusal);
      },
      layout: async () => {
        const s = useEditor.getState();
        if (s.nodes.length === 0) return;
        // the graph's own blocks: an open instance moves as one block with its insides
        const top = topLevel(s.nodes, s.edges);
        try {
          s.applyPositions(await layoutGraph(top.nodes, top.edges, s.ops));
          // Wait a frame so React Flow has the new positions before framing them.
          requestAnimationFrame(() => fitReadable(rf, 200));
        } catch (err) {
          useUi.getState().notify("error", `Auto-layout failed: ${String(err)}`);
        }
      },
    }),
    [rf],
  );
}
