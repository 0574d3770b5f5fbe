// The dock and the canvas's live views as shown: open or closed, its tab, its message line,
// and the view toggles (what nodes and edges show, log scale, the chart's x axis).
import type { XMode } from "./series";
import type { TrainSlice } from "./store";

export type LiveMode = "value" | "grad" | "both";
export type EdgeMode = "off" | "weight" | "grad";
export type DockTab = "data" | "settings" | "history" | "landscape";

export interface DockSlice {
  /** the dock's message line; `busyServer`: the server runs its maximum of runs; `aboutGraph`:
   * it answered a request about the graph as it was then, so it goes when the graph changes */
  message: {
    kind: "error" | "info";
    text: string;
    busyServer?: boolean;
    aboutGraph?: boolean;
  } | null;
  liveMode: LiveMode;
  edgeMode: EdgeMode;
  logScale: boolean;
  xMode: XMode;
  dockOpen: boolean;
  tab: DockTab;

  setLiveMode: (m: LiveMode) => void;
  setEdgeMode: (m: EdgeMode) => void;
  toggleLog: () => void;
  setXMode: (m: XMode) => void;
  setDock: (patch: { open?: boolean; tab?: DockTab }) => void;
  say: (kind: "error" | "info", text: string) => void;
  /** The graph was edited or replaced: drops a message about it that may no longer apply. */
  graphChanged: () => void;
}

export const createDockSlice: TrainSlice<DockSlice> = (set) => ({
  message: null,
  liveMode: "value",
  edgeMode: "off",
  logScale: false,
  xMode: "step",
  dockOpen: true,
  tab: "data",

  setLiveMode: (liveMode) => set({ liveMode }),
  setEdgeMode: (edgeMode) => set({ edgeMode }),
  toggleLog: () => set((s) => ({ logScale: !s.logScale })),
  setXMode: (xMode) => set({ xMode }),
  setDock: ({ open, tab }) => set((s) => ({ dockOpen: open ?? s.dockOpen, tab: tab ?? s.tab })),
  say: (kind, text) => set({ message: { kind, text } }),
  graphChanged: () => set((s) => (s.message?.aboutGraph ? { message: null } : {})),
});
