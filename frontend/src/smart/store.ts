// What the smart defaults did, per node, for the inspector to say (and undo to take back).

import type { Connection } from "@xyflow/react";
import { create } from "zustand";
import { useEditor } from "../store/editor";
import { type Change, connectChanges } from "./defaults";
import { dataFacts } from "./facts";

export interface Note {
  why: string;
  params: Change["params"];
  /** the editor revision right after the change: undo moves away from it */
  revision: number;
}

interface SmartState {
  notes: Record<string, Note[]>;
  note: (change: Change, revision: number) => void;
  clear: () => void;
}

export const useSmart = create<SmartState>()((set) => ({
  notes: {},
  note: (c, revision) =>
    set((s) => ({
      notes: {
        ...s.notes,
        [c.node]: [...(s.notes[c.node] ?? []), { why: c.why, params: c.params, revision }],
      },
    })),
  clear: () => set({ notes: {} }),
}));

/** Applies changes as one undo step each and remembers why. */
export function applyChanges(changes: Change[]) {
  for (const c of changes) {
    useEditor.getState().setParams(c.node, c.params);
    useSmart.getState().note(c, useEditor.getState().revision);
  }
}

/** Connects like the canvas does, then configures the ends the new wire explains. Returns the
 * refusal, as `connect` does. */
export function connectSmart(c: Connection): string | null {
  const refusal = useEditor.getState().connect(c);
  if (refusal) return refusal;
  const s = useEditor.getState();
  applyChanges(connectChanges(c, s.nodes, s.ops, dataFacts()));
  return null;
}
