// The training store: what the panel is set to (dataset, trainer settings), the run being
// watched, and its live views. Its own zustand store, apart from the editor's, so a snapshot
// never touches the document, its undo history or its draft. Stream batches arrive once per
// animation frame (stream.ts) and are applied with one `set`; node views select their own
// node's summary, so a snapshot re-renders the live views and nothing else.
//
// Composed of slices, each its state and the named actions on it:
//   setupSlice    the dataset and trainer settings (kept per graph, see persist.ts)
//   controlSlice  ▶ ⏸ step ■ reset, the learning rate after a divergence (requests.ts)
//   liveSlice     the run watched, its stream and the live views it feeds
//   historySlice  the graph's runs and the curves compared with the current one
//   dockSlice     the dock's tabs, message line and view toggles
import { create, type StateCreator } from "zustand";
import { useEditor } from "../store/editor";
import { runTokens, trainApi } from "./api";
import { type ControlSlice, createControlSlice } from "./controlSlice";
import { createDockSlice, type DockSlice } from "./dockSlice";
import { createHistorySlice, type HistorySlice } from "./historySlice";
import { createLiveSlice, type LiveSlice } from "./liveSlice";
import { graphKey, localRuns, savedSettings, setUrlRun, urlRun } from "./persist";
import { type RunView, signature } from "./runs";
import { DEFAULT_SETTINGS } from "./settings";
import { createSetupSlice, type SetupSlice } from "./setupSlice";

export type { ControlSlice } from "./controlSlice";
export type { DockSlice, DockTab, EdgeMode, LiveMode } from "./dockSlice";
export type { Compared, HistorySlice } from "./historySlice";
export type { LiveSlice } from "./liveSlice";
export type { RunView } from "./runs";
export type { SetupSlice } from "./setupSlice";
export type { Levels } from "./snapshot";

export interface TrainState extends SetupSlice, ControlSlice, LiveSlice, HistorySlice, DockSlice {}

/** A part of the store: its state and actions, with the whole store to read and set. */
export type TrainSlice<T> = StateCreator<TrainState, [], [], T>;

export const useTrain = create<TrainState>()((...a) => ({
  ...createSetupSlice(...a),
  ...createControlSlice(...a),
  ...createLiveSlice(...a),
  ...createHistorySlice(...a),
  ...createDockSlice(...a),
}));

// ------------------------------------------------------------------------------- wiring

/** Keeps the training panel in step with the document: settings per graph, the run to show
 * when a graph is (re)loaded — the URL's `?run=` on first load, else the run last started on
 * this very graph — and the history. Returns the unsubscribe. */
export function startTrainWiring(): () => void {
  let first = true;
  const onLoaded = () => {
    const key = graphKey();
    const saved = savedSettings.read(key);
    if (saved?.dataset) useTrain.setState({ dataset: saved.dataset });
    if (saved?.settings)
      useTrain.setState({ settings: { ...DEFAULT_SETTINGS, ...saved.settings } });
    const t = useTrain.getState();
    const fromUrl = first ? urlRun() : null;
    first = false;
    const sig = signature(useEditor.getState().toDoc());
    const last = localRuns.last(key);
    const want = fromUrl ?? (last && last.sig === sig ? last.id : null);
    if (want && want !== t.run?.id) void t.attach(want, { sig: fromUrl ? null : sig });
    else if (!want && t.run && t.run.sig !== sig) {
      // Another graph: a run still training the old one would hold a slot out of sight.
      stopLeftBehind(t.run);
      t.detach();
    }
    void t.refreshHistory();
  };
  const unsub = useEditor.subscribe((s, p) => {
    if (s.revision !== p.revision) useTrain.getState().graphChanged();
    if (s.loadSeq !== p.loadSeq) onLoaded();
    else if (s.graphId !== p.graphId && s.graphId) {
      // Saved under a new id: its settings and this browser's runs move with it.
      const { dataset, settings, run } = useTrain.getState();
      savedSettings.write({ dataset, settings }, s.graphId);
      for (const id of localRuns.ids(p.graphId ?? "draft").reverse()) localRuns.add(id, s.graphId);
      if (run) {
        localRuns.remember(run.id, run.sig, s.graphId);
        setTimeout(() => setUrlRun(run.id), 0); // after the editor moves the URL to /g/{id}
      }
      void useTrain.getState().refreshHistory();
    }
  });
  // The document may have loaded before this wiring started.
  if (useEditor.getState().loadSeq > 0) onLoaded();
  return unsub;
}

/** Stops a run of this browser that the page is leaving (another graph or example opened),
 * and says so in the dock: left running, it would keep a training slot with no one watching. */
function stopLeftBehind(run: RunView) {
  const token = runTokens.get(run.id);
  if (!token || !(run.live || run.status === "queued")) return;
  void trainApi
    .control(run.id, "stop", token)
    .then(() =>
      useTrain.setState({
        message: {
          kind: "info",
          text: `Stopped run ${run.id} of the graph you left (it is in that graph's history).`,
        },
      }),
    )
    .catch(() => undefined);
}
