import type { GraphDoc, OpSpec } from "../api/types";
import { useEditor } from "../store/editor";
import opsJson from "./fixtures/ops.json";
import spatialJson from "./fixtures/ops_spatial.json";

/** A slice of the real op catalogue (dumped from the backend registry), for unit tests. */
export const OPS = opsJson as unknown as OpSpec[];
export const OP_INDEX = Object.fromEntries(OPS.map((o) => [o.name, o]));
/** conv2d, max_pool2d (per-axis `ints` params) and batch_norm (buffers), dumped the same way. */
export const SPATIAL_OPS = spatialJson as unknown as OpSpec[];

/** input → linear → squared error ← target, the linear-regression graph of the issue. */
export const LINREG: GraphDoc = {
  version: 1,
  name: "linear regression",
  nodes: [
    { id: "x", op: "input", params: { shape: [3] }, ui: { x: 0, y: 0 } },
    { id: "y", op: "target", params: { shape: [1] }, ui: { x: 0, y: 150 } },
    {
      id: "lin",
      op: "linear",
      params: { out_features: 1 },
      inputs: { x: "x" },
      ui: { x: 200, y: 0 },
    },
    { id: "c", op: "squared_error", inputs: { y: "lin", target: "y" }, ui: { x: 400, y: 50 } },
  ],
};

/** A fresh editor store with the fixture ops loaded. */
export function resetEditor(doc?: GraphDoc) {
  useEditor.setState(useEditor.getInitialState(), true);
  useEditor.getState().setOps(OPS);
  if (doc) useEditor.getState().loadDoc(doc);
  return useEditor.getState();
}
