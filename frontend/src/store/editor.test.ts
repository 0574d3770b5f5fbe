import { beforeEach, describe, expect, it } from "vitest";
import type { FlowEdge } from "../lib/doc";
import { LINREG, resetEditor } from "../test/fixtures";
import { selectDirty, useEditor } from "./editor";

const ed = () => useEditor.getState();
const conn = (source: string, sourceHandle: string, target: string, targetHandle: string) => ({
  source,
  sourceHandle,
  target,
  targetHandle,
});

describe("editor store", () => {
  beforeEach(() => {
    resetEditor();
  });

  it("adds nodes with readable ids and the spec's defaults", () => {
    expect(ed().addNode("input", { x: 0, y: 0 })).toBe("input1");
    expect(ed().addNode("input", { x: 0, y: 0 })).toBe("input2");
    const lin = ed().addNode("linear", { x: 0, y: 0 }) as string;
    const node = ed().nodes.find((n) => n.id === lin);
    // out_features is required (no default), so it is left for the user to set.
    expect(node?.data.params).toEqual({ bias: true, init: "xavier" });
    expect(ed().addNode("no_such_op", { x: 0, y: 0 })).toBeNull();
  });

  it("selects only the node just added", () => {
    ed().addNode("input", { x: 0, y: 0 });
    ed().addNode("relu", { x: 0, y: 0 });
    expect(ed().nodes.map((n) => !!n.selected)).toEqual([false, true]);
  });

  it("connects ports and builds the document", () => {
    ed().addNode("input", { x: 0, y: 0 });
    ed().addNode("relu", { x: 100, y: 0 });
    expect(ed().connect(conn("input1", "y", "relu1", "x"))).toBeNull();
    expect(ed().toDoc().nodes[1].inputs).toEqual({ x: "input1" });
  });

  it("gives an input port one source: a new link replaces the old", () => {
    ed().addNode("input", { x: 0, y: 0 });
    ed().addNode("input", { x: 0, y: 0 });
    ed().addNode("relu", { x: 0, y: 0 });
    ed().connect(conn("input1", "y", "relu1", "x"));
    ed().connect(conn("input2", "y", "relu1", "x"));
    expect(ed().edges).toHaveLength(1);
    expect(ed().edges[0].source).toBe("input2");
  });

  it("refuses a link that closes a cycle, naming it, and changes nothing", () => {
    for (const op of ["relu", "relu", "relu"]) ed().addNode(op, { x: 0, y: 0 });
    ed().connect(conn("relu1", "y", "relu2", "x"));
    ed().connect(conn("relu2", "y", "relu3", "x"));
    const before = { edges: ed().edges, revision: ed().revision, past: ed().past.length };
    const refusal = ed().connect(conn("relu3", "y", "relu1", "x"));
    expect(refusal).toBe(
      "Refused: connecting relu3 → relu1 would close the cycle relu3 → relu1 → relu2 → relu3.",
    );
    expect(ed().edges).toBe(before.edges);
    expect(ed().revision).toBe(before.revision);
    expect(ed().past).toHaveLength(before.past);
    expect(ed().connect(conn("relu2", "y", "relu2", "x"))).toMatch(/itself/);
  });

  it("refuses a reconnection that closes a cycle but allows moving an edge", () => {
    resetEditor(LINREG);
    const e = ed().edges.find((x) => x.target === "lin") as FlowEdge;
    expect(ed().reconnect(e, conn("c", "y", "lin", "x"))).toMatch(/close the cycle c → lin → c/);
    expect(ed().reconnect(e, conn("y", "y", "lin", "x"))).toBeNull();
    expect(
      ed()
        .toDoc()
        .nodes.find((n) => n.id === "lin")?.inputs,
    ).toEqual({ x: "y" });
  });

  it("undoes and redoes adds, links and param edits", () => {
    ed().addNode("input", { x: 0, y: 0 });
    ed().addNode("linear", { x: 100, y: 0 });
    ed().connect(conn("input1", "y", "linear1", "x"));
    ed().setParam("linear1", "out_features", 4);
    const full = ed().toDoc();

    ed().undo(); // param
    expect(ed().nodes[1].data.params.out_features).toBeUndefined();
    ed().undo(); // link
    expect(ed().edges).toHaveLength(0);
    ed().undo(); // linear
    ed().undo(); // input
    expect(ed().nodes).toHaveLength(0);
    ed().undo(); // nothing left: a no-op
    expect(ed().nodes).toHaveLength(0);

    for (let i = 0; i < 4; i++) ed().redo();
    expect(ed().toDoc()).toEqual(full);
    expect(ed().future).toHaveLength(0);
  });

  it("makes one undo step of consecutive edits to one field", () => {
    ed().addNode("linear", { x: 0, y: 0 });
    ed().setParam("linear1", "out_features", 1);
    ed().setParam("linear1", "out_features", 16);
    ed().setParam("linear1", "out_features", 164);
    ed().undo();
    expect(ed().nodes[0].data.params.out_features).toBeUndefined();
  });

  it("drops the redo branch after a new edit", () => {
    ed().addNode("input", { x: 0, y: 0 });
    ed().undo();
    ed().addNode("relu", { x: 0, y: 0 });
    expect(ed().future).toHaveLength(0);
    ed().redo();
    expect(ed().nodes.map((n) => n.id)).toEqual(["relu1"]);
  });

  it("copies, pastes and duplicates with fresh ids and inner links", () => {
    resetEditor(LINREG);
    ed().selectOnly(["x", "lin"]);
    expect(ed().copy()).toBe(2);
    expect(ed().paste()).toBe(2);
    const ids = ed().nodes.map((n) => n.id);
    expect(ids).toEqual(["x", "y", "lin", "c", "input1", "linear1"]);
    // the x→lin link travels, lin→c (to a node outside the selection) does not
    expect(
      ed()
        .toDoc()
        .nodes.find((n) => n.id === "linear1")?.inputs,
    ).toEqual({ x: "input1" });
    expect(
      ed()
        .nodes.filter((n) => n.selected)
        .map((n) => n.id),
    ).toEqual(["input1", "linear1"]);
    expect(ed().duplicate()).toBe(2);
    expect(ed().nodes).toHaveLength(8);
    ed().undo();
    ed().undo();
    expect(ed().nodes).toHaveLength(4);
  });

  it("deletes the selection with the links that touch it", () => {
    resetEditor(LINREG);
    ed().selectOnly(["lin"]);
    ed().deleteSelected();
    expect(ed().nodes.map((n) => n.id)).toEqual(["x", "y", "c"]);
    expect(ed().edges.map((e) => e.id)).toEqual(["e-c-target"]);
    ed().undo();
    expect(ed().edges).toHaveLength(3);
  });

  it("renames a node and the links that name it", () => {
    resetEditor(LINREG);
    expect(ed().renameNode("lin", "bad id")).toMatch(/letters/);
    expect(ed().renameNode("lin", "x")).toMatch(/already/);
    expect(ed().renameNode("lin", "fc")).toBeNull();
    const doc = ed().toDoc();
    expect(doc.nodes.find((n) => n.id === "fc")?.inputs).toEqual({ x: "x" });
    expect(doc.nodes.find((n) => n.id === "c")?.inputs).toEqual({ y: "fc", target: "y" });
  });

  it("tracks unsaved changes against the last load or save", () => {
    resetEditor(LINREG);
    expect(selectDirty(ed())).toBe(false);
    ed().setName("renamed");
    expect(selectDirty(ed())).toBe(true);
    ed().markSaved("abc");
    expect(selectDirty(ed())).toBe(false);
    expect(ed().graphId).toBe("abc");
  });

  it("counts a finished move, but not selection, as an edit", () => {
    resetEditor(LINREG);
    const r = ed().revision;
    ed().onNodesChange([{ type: "select", id: "x", selected: true }]);
    ed().onNodesChange([{ type: "position", id: "x", position: { x: 5, y: 5 }, dragging: true }]);
    expect(ed().revision).toBe(r);
    ed().onNodesChange([{ type: "position", id: "x", position: { x: 9, y: 9 }, dragging: false }]);
    expect(ed().revision).toBe(r + 1);
    expect(ed().toDoc().nodes[0].ui).toEqual({ x: 9, y: 9 });
  });

  it("indexes validation errors by node and order by position", () => {
    resetEditor(LINREG);
    const err = { code: "bad_param", message: "m", nodes: ["lin"], port: "out_features" };
    ed().setValidation({
      ok: false,
      order: ["x", "y", "lin", "c"],
      shapes: { x: [3] },
      errors: [err],
    });
    const v = ed().validation;
    expect(v.status).toBe("invalid");
    expect(v.byNode.lin).toEqual([err]);
    expect(v.order.c).toBe(4);
  });

  it("loading a document resets history", () => {
    ed().addNode("input", { x: 0, y: 0 });
    ed().loadDoc(LINREG, { graphId: "g1" });
    expect(ed().past).toHaveLength(0);
    expect(ed().graphId).toBe("g1");
    expect(ed().toDoc()).toEqual(LINREG);
  });
});
