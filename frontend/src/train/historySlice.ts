// The runs of this graph (and this browser's runs of the draft), and up to two of them whose
// loss curves are drawn beside the current run's.
import { useEditor } from "../store/editor";
import { describeError, trainApi } from "./api";
import { localRuns } from "./persist";
import { runLabel } from "./runs";
import { Series } from "./series";
import type { TrainSlice } from "./store";
import type { RunRead } from "./types";

export interface Compared {
  id: string;
  label: string;
  series: Series;
}

export interface HistorySlice {
  history: RunRead[];
  historyStatus: "idle" | "loading" | "error";
  compared: Compared[];

  refreshHistory: () => Promise<void>;
  toggleCompare: (id: string) => Promise<void>;
}

export const createHistorySlice: TrainSlice<HistorySlice> = (set, get) => ({
  history: [],
  historyStatus: "idle",
  compared: [],

  refreshHistory: async () => {
    const graphId = useEditor.getState().graphId;
    const ids = localRuns.ids();
    if (!graphId && !ids.length) {
      set({ history: [], historyStatus: "idle" });
      return;
    }
    set({ historyStatus: "loading" });
    try {
      const history = await trainApi.runs(graphId, ids);
      set({ history, historyStatus: "idle" });
    } catch {
      set({ historyStatus: "error" });
    }
  },

  toggleCompare: async (id) => {
    const { compared, history } = get();
    if (compared.some((c) => c.id === id)) {
      set({
        compared: compared.filter((c) => c.id !== id),
        metricsVersion: get().metricsVersion + 1,
      });
      return;
    }
    try {
      const m = await trainApi.metrics(id);
      const series = new Series();
      series.push(m.points);
      const r = history.find((h) => h.id === id);
      const label = r ? runLabel(r) : id.slice(0, 6);
      // At most two runs compared besides the current one.
      const next = [...get().compared.filter((c) => c.id !== id), { id, label, series }].slice(-2);
      set({ compared: next, metricsVersion: get().metricsVersion + 1 });
    } catch (err) {
      set({
        message: { kind: "error", text: `Could not load run ${id}: ${describeError(err)}` },
      });
    }
  },
});
