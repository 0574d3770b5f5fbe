// What the smart defaults know about the data a graph will train on: read from the training
// store (the dataset picked in the dock), never from op names.
import { useTrain } from "../train/store";

export interface DataFacts {
  task: "classification" | "regression";
  /** per-sample input shape x */
  inputShape: number[];
  /** class count (classification) */
  classes: number;
  /** target values per sample (regression) */
  outputs: number;
  title: string;
}

/** The dataset chosen in the training dock, or null while the catalogue is unknown. */
export function dataFacts(): DataFacts | null {
  const { datasets, dataset } = useTrain.getState();
  const info = datasets.find((d) => d.name === dataset.name);
  if (info) {
    // A dataset parameter named `classes` (blobs) overrides the catalogue's default count.
    const chosen = typeof dataset.classes === "number" ? dataset.classes : null;
    return {
      task: info.task,
      inputShape: info.input_shape?.length ? [...info.input_shape] : [info.features],
      classes: chosen ?? info.classes ?? 0,
      outputs: 1,
      title: info.title,
    };
  }
  const upload = useTrain.getState().uploads.find((u) => u.id === dataset.name);
  if (!upload) return null;
  return {
    task: upload.task === "classification" ? "classification" : "regression",
    inputShape: [upload.features],
    classes: 0, // not kept with an upload: the run says so if the output is too small
    outputs: 1,
    title: upload.name,
  };
}
