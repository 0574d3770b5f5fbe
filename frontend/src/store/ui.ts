import { create } from "zustand";

/** View state that is not part of the graph: dialogs, the notice line, view toggles. Kept apart
 * from the editor store so undo history and autosave never see it. */
export type Dialog = "open" | "examples" | "help" | "quickadd" | "connect" | null;
export interface Notice {
  kind: "error" | "info";
  text: string;
  /** increases on every notice so the same text shown twice restarts its timer */
  seq: number;
}

interface UiState {
  dialog: Dialog;
  notice: Notice | null;
  showOrder: boolean;
  /** draw the computed variables (functions' outputs) as the notes' empty circles on edges */
  showVariables: boolean;
  openDialog: (d: Dialog) => void;
  closeDialog: () => void;
  notify: (kind: Notice["kind"], text: string) => void;
  dismissNotice: () => void;
  toggleOrder: () => void;
  toggleVariables: () => void;
}

let seq = 0;

export const useUi = create<UiState>()((set) => ({
  dialog: null,
  notice: null,
  showOrder: false,
  showVariables: false,
  openDialog: (dialog) => set({ dialog }),
  closeDialog: () => set({ dialog: null }),
  notify: (kind, text) => set({ notice: { kind, text, seq: ++seq } }),
  dismissNotice: () => set({ notice: null }),
  toggleOrder: () => set((s) => ({ showOrder: !s.showOrder })),
  toggleVariables: () => set((s) => ({ showVariables: !s.showVariables })),
}));
