import type { GraphDoc } from "../api/types";
import { configOf } from "../train/settings";
import { useTrain } from "../train/store";
import { useEditor } from "./editor";

/** The experiment travels whole: a saved, shared, broadcast or downloaded document carries the
 * dock's dataset and training settings (`dataset`, `train`) beside the graph, its trained
 * `state` and the `normalization` that state was trained with; opening one restores them. */

/** The editor's document with the dock's dataset and settings. */
export function experimentDoc(): GraphDoc {
  const doc = useEditor.getState().toDoc();
  const { dataset, settings } = useTrain.getState();
  return {
    ...doc,
    dataset: { ...dataset } as GraphDoc["dataset"],
    train: configOf(settings) as GraphDoc["train"],
  };
}

/** Puts a document's dataset and settings into the dock (documents without them change
 * nothing: the dock keeps what it has). */
export function restoreExperiment(doc: GraphDoc) {
  const { dataset, train } = doc;
  if (!dataset && !train) return;
  useTrain
    .getState()
    .applyExample(
      dataset as Record<string, unknown> | null | undefined,
      train as Record<string, unknown> | null | undefined,
    );
}
