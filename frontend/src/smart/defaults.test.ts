import { beforeEach, describe, expect, it } from "vitest";
import { useEditor } from "../store/editor";
import { OP_INDEX, resetEditor } from "../test/fixtures";
import { addDefaults, connectChanges, graphFixes, HIDDEN_SIZE } from "./defaults";
import type { DataFacts } from "./facts";
import { connectSmart, useSmart } from "./store";

const SPIRAL: DataFacts = {
  task: "classification",
  inputShape: [2],
  classes: 3,
  outputs: 1,
  title: "Spiral",
};

/** x → l1 → c ← y, nothing configured: a classifier as a newcomer draws it. */
function drawClassifier() {
  resetEditor({
    version: 1,
    name: "from scratch",
    nodes: [
      { id: "x", op: "input", params: { shape: [2] } },
      { id: "y", op: "target", params: { shape: [1], dtype: "float" } },
      { id: "l1", op: "linear", params: { out_features: HIDDEN_SIZE }, inputs: { x: "x" } },
      { id: "c", op: "cross_entropy", inputs: { logits: "l1" } },
    ],
  });
  useSmart.getState().clear();
}

const params = (id: string) => useEditor.getState().nodes.find((n) => n.id === id)?.data.params;

describe("smart defaults", () => {
  beforeEach(drawClassifier);

  it("sizes a new Linear and shapes a new Input from the dataset", () => {
    expect(addDefaults(OP_INDEX.linear, SPIRAL)).toEqual({ out_features: HIDDEN_SIZE });
    expect(addDefaults(OP_INDEX.input, SPIRAL)).toEqual({ shape: [2] });
    expect(addDefaults(OP_INDEX.relu, SPIRAL)).toEqual({});
    expect(addDefaults(OP_INDEX.input, null)).toEqual({});
  });

  it("a Target wired into cross-entropy becomes class labels, and undo takes it back", () => {
    const err = connectSmart({
      source: "y",
      sourceHandle: null,
      target: "c",
      targetHandle: "target",
    });
    expect(err).toBeNull();
    expect(params("y")).toMatchObject({ dtype: "int", shape: [] });
    expect(useSmart.getState().notes.y?.[0].why).toMatch(/class labels/);
    useEditor.getState().undo();
    expect(params("y")).toMatchObject({ dtype: "float", shape: [1] });
    // the wire stays: one undo takes back only what was set automatically
    expect(useEditor.getState().edges.some((e) => e.source === "y")).toBe(true);
  });

  it("the block feeding a classification cost is sized to the classes, unless typed", () => {
    const s = useEditor.getState();
    const edge = { source: "l1", target: "c", targetHandle: "logits" };
    expect(connectChanges(edge, s.nodes, s.ops, SPIRAL)).toEqual([
      expect.objectContaining({ node: "l1", params: { out_features: 3 } }),
    ]);
    useEditor.getState().setParam("l1", "out_features", 7);
    const typed = useEditor.getState();
    expect(connectChanges(edge, typed.nodes, typed.ops, SPIRAL)).toEqual([]);
  });

  it("a cost that compares values is not sized to classes", () => {
    resetEditor({
      version: 1,
      name: "mismatched",
      nodes: [
        { id: "l1", op: "linear", params: { out_features: HIDDEN_SIZE } },
        { id: "c", op: "squared_error", inputs: { y: "l1" } },
      ],
    });
    const s = useEditor.getState();
    const edge = { source: "l1", target: "c", targetHandle: "y" };
    expect(connectChanges(edge, s.nodes, s.ops, SPIRAL)).toEqual([]);
    const regression = { ...SPIRAL, task: "regression" as const };
    expect(connectChanges(edge, s.nodes, s.ops, regression)).toEqual([
      expect.objectContaining({ params: { out_features: 1 } }),
    ]);
  });

  it("regression: a Target stays real-valued", () => {
    const s = useEditor.getState();
    const changes = connectChanges(
      { source: "y", target: "c", targetHandle: "target" },
      s.nodes,
      s.ops,
      { ...SPIRAL, task: "regression" },
    );
    expect(changes).toEqual([]);
  });

  it("offers fixes for errors with an obvious remedy", () => {
    useEditor
      .getState()
      .connect({ source: "y", sourceHandle: null, target: "c", targetHandle: "target" });
    const s = useEditor.getState();
    const byNode = { c: [{ port: "target" }] };
    const fixes = graphFixes(s.nodes, s.edges, s.ops, byNode, { ...SPIRAL, inputShape: [4] });
    expect(fixes.map((f) => f.label).sort()).toEqual([
      "Make y class labels",
      "Set l1.out_features to 3 to match the 3 classes",
      "Set x's shape to [4] to match Spiral",
    ]);
    expect(fixes.find((f) => f.node === "y")?.params).toEqual({ dtype: "int", shape: [] });
    // nothing to fix once it is right
    const right = graphFixes(s.nodes, s.edges, s.ops, {}, { ...SPIRAL, classes: HIDDEN_SIZE });
    expect(right).toEqual([]);
    // the same features in another shape are fed reshaped: [2] feeds a [1, 2] input
    useEditor.getState().setParam("x", "shape", [1, 2]);
    const t = useEditor.getState();
    const reshaped = graphFixes(t.nodes, t.edges, t.ops, {}, { ...SPIRAL, classes: HIDDEN_SIZE });
    expect(reshaped).toEqual([]);
  });

  it("a required size left empty gets a fix", () => {
    useEditor.getState().setParam("l1", "out_features", undefined);
    const s = useEditor.getState();
    const fixes = graphFixes(s.nodes, s.edges, s.ops, { l1: [{ port: "out_features" }] }, null);
    expect(fixes.map((f) => f.params)).toEqual([{ out_features: HIDDEN_SIZE }]);
  });
});
