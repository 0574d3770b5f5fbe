import { beforeEach, describe, expect, it } from "vitest";
import type { GraphDoc } from "../api/types";
import type { Modules } from "../lib/modules";
import { resetEditor } from "../test/fixtures";
import { useEditor } from "./editor";

const ed = () => useEditor.getState();
const ids = () => ed().nodes.map((n) => n.id);
const node = (id: string) => ed().nodes.find((n) => n.id === id);
const def = () => (ed().modules as Modules).block;

/** x → b1 → b2 → c ← y: two instances of one module (linear then relu). */
const TWO: GraphDoc = {
  version: 1,
  name: "two blocks",
  modules: {
    block: {
      inputs: ["x"],
      outputs: { y: "r" },
      nodes: [
        {
          id: "l",
          op: "linear",
          params: { out_features: 4 },
          inputs: { x: "x" },
          ui: { x: 220, y: 40 },
        },
        { id: "r", op: "relu", inputs: { x: "l" }, ui: { x: 440, y: 40 } },
      ],
    },
  },
  nodes: [
    { id: "x", op: "input", params: { shape: [2] }, ui: { x: 0, y: 0 } },
    { id: "y", op: "target", params: { shape: [4] }, ui: { x: 0, y: 300 } },
    {
      id: "b1",
      op: "module",
      params: { module: "block" },
      inputs: { x: "x" },
      ui: { x: 200, y: 0 },
    },
    {
      id: "b2",
      op: "module",
      params: { module: "block" },
      inputs: { x: "b1" },
      ui: { x: 400, y: 0 },
    },
    { id: "c", op: "squared_error", inputs: { y: "b2", target: "y" }, ui: { x: 600, y: 0 } },
  ],
  state: { "b1/l": { W: [[1, 2]], b: [0] }, "b2/l": { W: [[3, 4]], b: [1] } },
};

describe("an instance expanded in place", () => {
  beforeEach(() => {
    resetEditor(structuredClone(TWO));
  });

  it("draws its module's blocks and wires as children of the block, never saved", () => {
    const saved = ed().toDoc();
    ed().toggleExpanded("b1");
    // right after their group: React Flow meets a parent first, Tab goes through it in order
    expect(ids()).toEqual(["x", "y", "b1", "b1/x", "b1/l", "b1/r", "b1/y", "b2", "c"]);
    expect(node("b1/l")).toMatchObject({ parentId: "b1", extent: "parent" });
    expect(node("b1/l")?.data).toEqual({ op: "linear", params: { out_features: 4 } });
    const inner = ed().edges.filter((e) => e.target.startsWith("b1/"));
    expect(inner.map((e) => `${e.source}→${e.target}.${e.targetHandle}`).sort()).toEqual([
      "b1/l→b1/r.x",
      "b1/r→b1/y.y",
      "b1/x→b1/l.x",
    ]);
    // the group is sized to hold its blocks
    const style = node("b1")?.style ?? {};
    const l = node("b1/l");
    expect(Number(style.width)).toBeGreaterThan((l?.position.x ?? 0) + 100);
    // opening is a view: the document is unchanged but for the blocks moved out from under
    // the group, right of its middle (one undo step)
    const where = (d: GraphDoc) => Object.fromEntries(d.nodes.map((n) => [n.id, n.ui]));
    const { nodes: _a, ...rest } = ed().toDoc();
    const { nodes: _b, ...restSaved } = saved;
    expect(rest).toEqual(restSaved);
    const moved = where(ed().toDoc());
    expect(moved.b2?.x).toBeGreaterThan(200 + Number(style.width));
    expect((moved.c?.x ?? 0) - (moved.b2?.x ?? 0)).toBe(200);
    expect([moved.x, moved.y, moved.b1]).toEqual([where(saved).x, where(saved).y, where(saved).b1]);
    expect(ed().past).toHaveLength(1);
    ed().toggleExpanded("b1");
    expect(ids()).toEqual(["x", "y", "b1", "b2", "c"]);
    expect(node("b1")?.style?.width).toBeUndefined();
    expect(ed().past).toHaveLength(1); // closing is a view
    ed().toggleExpanded("b1");
    expect(ed().past).toHaveLength(1); // nothing is covered now: no move
  });

  it("writes a param edit to the module: other instances follow, one undo step restores", () => {
    ed().toggleExpanded("b1");
    ed().toggleExpanded("b2");
    const steps = ed().past.length;
    ed().setParam("b1/l", "out_features", 8);
    expect(def().nodes[0].params).toEqual({ out_features: 8 });
    expect(node("b2/l")?.data.params).toEqual({ out_features: 8 }); // the other, open, follows
    expect(ed().toDoc().modules).toEqual({ block: def() });
    expect(
      ed()
        .toDoc()
        .nodes.map((n) => n.id),
    ).toEqual(["x", "y", "b1", "b2", "c"]);
    expect(ed().past).toHaveLength(steps + 1);
    ed().undo();
    expect(def().nodes[0].params).toEqual({ out_features: 4 });
    expect(node("b1/l")?.data.params).toEqual({ out_features: 4 });
    expect(node("b2/l")?.data.params).toEqual({ out_features: 4 });
    ed().redo();
    expect(node("b2/l")?.data.params).toEqual({ out_features: 8 });
  });

  it("a closed instance follows too, drawn with the edit once opened", () => {
    ed().toggleExpanded("b1");
    ed().setParam("b1/l", "out_features", 6);
    ed().toggleExpanded("b2");
    expect(node("b2/l")?.data.params).toEqual({ out_features: 6 });
  });

  it("connects, disconnects and refuses wires across the border", () => {
    ed().toggleExpanded("b1");
    const wire = { sourceHandle: "x", targetHandle: "x" };
    // inner relu reads the module input straight: the linear is left unused
    expect(ed().connect({ ...wire, source: "b1/x", target: "b1/r" })).toBeNull();
    expect(def().nodes.find((n) => n.id === "r")?.inputs).toEqual({ x: "x" });
    expect(ed().connect({ ...wire, source: "x", target: "b1/r" })).toMatch(/border/);
    expect(
      ed().connect({ source: "b1/l", sourceHandle: "y", target: "c", targetHandle: "y" }),
    ).toMatch(/border/);
    ed().removeEdge("e-b1/l-x");
    expect(def().nodes.find((n) => n.id === "l")?.inputs).toBeUndefined();
    ed().undo();
    ed().undo();
    expect(def()).toEqual(TWO.modules?.block);
  });

  it("moves and deletes inner blocks in the module, one undo step each", () => {
    ed().toggleExpanded("b1");
    const steps = ed().past.length;
    const at = node("b1/r")?.position ?? { x: 0, y: 0 };
    ed().checkpoint();
    ed().onNodesChange([
      { type: "position", id: "b1/r", position: { x: at.x + 30, y: at.y + 50 }, dragging: false },
    ]);
    expect(def().nodes[1].ui).toEqual({ x: 470, y: 90 });
    ed().selectOnly(["b1/l"]);
    ed().deleteSelected();
    expect(def().nodes.map((n) => n.id)).toEqual(["r"]);
    expect(ids()).not.toContain("b1/l");
    expect(ed().past).toHaveLength(steps + 2);
    ed().undo();
    expect(def().nodes.map((n) => n.id)).toEqual(["l", "r"]);
    expect(node("b1/l")?.parentId).toBe("b1");
  });

  it("a module output deleted inside drops the graph's links to it", () => {
    ed().toggleExpanded("b1");
    ed().selectOnly(["b1/y"]);
    ed().deleteSelected();
    expect(def().outputs).toEqual({});
    expect(
      ed()
        .toDoc()
        .nodes.find((n) => n.id === "b2")?.inputs,
    ).toBeUndefined();
  });

  it("drops a block from the palette into the group: a new block of the module", () => {
    ed().toggleExpanded("b1");
    const b1 = node("b1");
    const inside = { x: (b1?.position.x ?? 0) + 40, y: (b1?.position.y ?? 0) + 100 };
    const id = ed().addNode("relu", inside);
    expect(id).toBe("b1/relu1");
    expect(node("b1/relu1")).toMatchObject({ parentId: "b1", selected: true });
    expect(def().nodes.map((n) => n.id)).toEqual(["l", "r", "relu1"]);
    // inputs and targets stay outside modules
    expect(ed().addNode("input", inside)).toBe("input1");
    expect(node("input1")?.parentId).toBeUndefined();
    ed().undo();
    ed().undo();
    expect(def().nodes.map((n) => n.id)).toEqual(["l", "r"]);
  });

  it("renames an inner block in the module and every instance's parameters", () => {
    ed().toggleExpanded("b1");
    expect(ed().renameNode("b1/l", "lin")).toBeNull();
    expect(def().nodes.map((n) => n.id)).toEqual(["lin", "r"]);
    expect(def().nodes[1].inputs).toEqual({ x: "lin" });
    expect(Object.keys(ed().state ?? {}).sort()).toEqual(["b1/lin", "b2/lin"]);
    expect(ed().renameNode("b1/lin", "b1/r")).toMatch(/already/);
    expect(ed().renameNode("b1/lin", "a/b")).toMatch(/Ids use/);
  });

  it("keeps open instances open through editing the module elsewhere", () => {
    ed().toggleExpanded("b1");
    ed().enterModule("block");
    expect(ids()).not.toContain("b1/l");
    ed().setParam("l", "out_features", 5);
    ed().leaveModule();
    expect(node("b1/l")?.data.params).toEqual({ out_features: 5 });
    expect(
      ed()
        .toDoc()
        .nodes.map((n) => n.id),
    ).toEqual(["x", "y", "b1", "b2", "c"]);
  });
});

describe("an open instance and the rest of the editor", () => {
  beforeEach(() => {
    resetEditor(structuredClone(TWO));
    ed().toggleExpanded("b1");
  });

  it("follows its module's new name", () => {
    expect(ed().renameModule("block", "mlp")).toBeNull();
    expect(node("b1")?.data.op).toBe("module:mlp");
    expect(node("b1/l")?.parentId).toBe("b1");
    ed().setParam("b1/l", "out_features", 2);
    expect((ed().modules as Modules).mlp.nodes[0].params).toEqual({ out_features: 2 });
  });

  it("goes with its insides when deleted, and comes back open on undo", () => {
    ed().selectOnly(["b1"]);
    ed().deleteSelected();
    expect(ids().some((id) => id.startsWith("b1"))).toBe(false);
    expect(def().nodes.map((n) => n.id)).toEqual(["l", "r"]); // the module is untouched
    ed().undo();
    expect(node("b1/l")?.parentId).toBe("b1");
  });

  it("is never copied: copy, duplicate and make block see the graph's own blocks", () => {
    ed().selectOnly(["b1/l", "b1/r"]);
    expect(ed().copy()).toBe(0);
    expect(ed().duplicate()).toBe(0);
    expect(ed().makeBlock()).toMatch(/Select/);
  });
});

describe("unpack", () => {
  const MLP: GraphDoc = {
    version: 1,
    name: "mlp",
    nodes: [
      { id: "x", op: "input", params: { shape: [2] }, ui: { x: 0, y: 0 } },
      { id: "y", op: "target", params: { shape: [], dtype: "int" }, ui: { x: 0, y: 200 } },
      {
        id: "l1",
        op: "linear",
        params: { out_features: 4 },
        inputs: { x: "x" },
        ui: { x: 200, y: 0 },
      },
      { id: "r1", op: "relu", inputs: { x: "l1" }, ui: { x: 400, y: 0 } },
      {
        id: "l2",
        op: "linear",
        params: { out_features: 2 },
        inputs: { x: "r1" },
        ui: { x: 600, y: 0 },
      },
      { id: "c", op: "cross_entropy", inputs: { logits: "l2", target: "y" }, ui: { x: 800, y: 0 } },
    ],
    state: { l1: { W: [[1, 2]], b: [0] } },
  };
  const noUi = (d: GraphDoc) => ({ ...d, nodes: d.nodes.map(({ ui: _, ...n }) => n) });

  it("is the inverse of make block, one undo step", () => {
    resetEditor(structuredClone(MLP));
    const before = ed().toDoc();
    ed().selectOnly(["l1", "r1"]);
    expect(ed().makeBlock()).toBeNull();
    expect(ed().toDoc().state).toEqual({ "block1/l1": MLP.state?.l1 });
    expect(ed().unpack()).toBeNull();
    const after = ed().toDoc();
    expect(noUi(after)).toEqual(noUi(before));
    expect(
      ed()
        .nodes.filter((n) => n.selected)
        .map((n) => n.id),
    ).toEqual(["l1", "r1"]);
    ed().undo();
    expect(
      ed()
        .toDoc()
        .nodes.map((n) => n.id),
    ).toEqual(["x", "y", "block1", "l2", "c"]);
  });

  it("gives the hand-expanded graph, fresh ids where the inner ones are taken", () => {
    resetEditor(structuredClone(TWO));
    ed().toggleExpanded("b2");
    expect(ed().unpack("b2")).toBeNull();
    const doc = ed().toDoc();
    expect(doc.nodes.map((n) => [n.id, n.op, n.inputs])).toEqual([
      ["x", "input", undefined],
      ["y", "target", undefined],
      ["b1", "module", { x: "x" }],
      ["l", "linear", { x: "b1" }],
      ["r", "relu", { x: "l" }],
      ["c", "squared_error", { y: "r", target: "y" }],
    ]);
    expect(doc.state).toEqual({ "b1/l": TWO.state?.["b1/l"], l: TWO.state?.["b2/l"] });
    expect(doc.modules).toEqual(TWO.modules); // b1 still uses it
    expect(ids()).not.toContain("b2/l");
    expect(ed().unpack("b1")).toBeNull();
    const flat = ed().toDoc();
    expect(flat.modules).toBeUndefined();
    expect(flat.nodes.map((n) => [n.id, n.inputs])).toEqual([
      ["x", undefined],
      ["y", undefined],
      ["l1", { x: "x" }],
      ["r1", { x: "l1" }],
      ["l", { x: "r1" }],
      ["r", { x: "l" }],
      ["c", { y: "r", target: "y" }],
    ]);
  });

  it("refuses what is not an instance", () => {
    resetEditor(structuredClone(TWO));
    expect(ed().unpack("c")).toMatch(/not a module block/);
    expect(ed().unpack()).toMatch(/Select one module block/);
  });
});

describe("what the canvas shows of an open instance", () => {
  it("labels the wires out of its module inputs with the shape feeding them", () => {
    resetEditor(structuredClone(TWO));
    ed().setValidation({
      ok: true,
      order: ["x", "b1/l", "b1/r", "b2/l", "b2/r"],
      shapes: { x: [2], "b1/l": [4], "b1/r": [4], "b2/l": [4], "b2/r": [4] },
      errors: [],
    });
    ed().toggleExpanded("b2");
    // b2's input x is b1's output: its shape comes through the instance alias
    expect(ed().validation.shapes["b2/x"]).toEqual([4]);
    expect(ed().validation.order["b2/l"]).toBe(4);
  });

  it("opens an instance inside an open instance, edits going to the inner module", () => {
    const doc = structuredClone(TWO);
    const modules = doc.modules as Modules;
    modules.outer = {
      inputs: ["x"],
      outputs: { y: "i" },
      nodes: [{ id: "i", op: "module", params: { module: "block" }, inputs: { x: "x" } }],
    };
    doc.nodes[2] = { ...doc.nodes[2], params: { module: "outer" } };
    resetEditor(doc);
    ed().toggleExpanded("b1");
    ed().toggleExpanded("b1/i");
    expect(node("b1/i/l")?.parentId).toBe("b1/i");
    expect(node("b1/i")?.parentId).toBe("b1");
    // the nested group comes after its parent, as React Flow asks
    expect(ids().indexOf("b1/i")).toBeLessThan(ids().indexOf("b1/i/l"));
    ed().setParam("b1/i/l", "out_features", 3);
    expect(def().nodes[0].params).toEqual({ out_features: 3 });
    expect((ed().modules as Modules).outer.nodes[0].params).toEqual({ module: "block" });
    expect(
      ed()
        .toDoc()
        .nodes.map((n) => n.id),
    ).toEqual(["x", "y", "b1", "b2", "c"]);
  });
});
