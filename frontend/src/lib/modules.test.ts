import { beforeEach, describe, expect, it } from "vitest";
import type { GraphDoc } from "../api/types";
import { useEditor } from "../store/editor";
import { OP_INDEX, resetEditor } from "../test/fixtures";
import { docToFlow, flowToDoc } from "./doc";
import {
  editDocToModule,
  flatOutput,
  instanceShapes,
  instancesOf,
  type Modules,
  makeBlock,
  moduleSpecs,
  moduleToEditDoc,
  scopeValidation,
} from "./modules";

/** x → l1 → r1 → l2 → c ← y: the middle two grouped make a residual-free "block". */
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

const observed = (op: string) => op === "input" || op === "target";

describe("make block", () => {
  it("turns a selection into a module and one instance wired in its place", () => {
    const made = makeBlock(MLP, ["l1", "r1"], observed);
    if (typeof made === "string") throw new Error(made);
    expect(made).toMatchObject({ module: "block", instance: "block1" });
    const def = (made.doc.modules as Modules).block;
    expect(def.inputs).toEqual(["x"]);
    expect(def.outputs).toEqual({ y: "r1" });
    expect(def.nodes.map((n) => [n.id, n.inputs])).toEqual([
      ["l1", { x: "x" }],
      ["r1", { x: "l1" }],
    ]);
    expect(made.doc.nodes.map((n) => n.id)).toEqual(["x", "y", "block1", "l2", "c"]);
    const inst = made.doc.nodes[2];
    expect(inst).toMatchObject({ op: "module", params: { module: "block" }, inputs: { x: "x" } });
    expect(made.doc.nodes[3].inputs).toEqual({ x: "block1" });
    // trained parameters follow the nodes to their flat addresses
    expect(made.doc.state).toEqual({ "block1/l1": { W: [[1, 2]], b: [0] } });
  });

  it("makes one input per outside source and one output per value read outside", () => {
    const made = makeBlock(MLP, ["r1", "l2"], observed);
    if (typeof made === "string") throw new Error(made);
    const def = (made.doc.modules as Modules).block;
    expect(def.inputs).toEqual(["x"]);
    expect(def.outputs).toEqual({ y: "l2" });
    const two = makeBlock(MLP, ["l1"], observed);
    if (typeof two === "string") throw new Error(two);
    const twice = makeBlock(two.doc, ["r1"], observed);
    if (typeof twice === "string") throw new Error(twice);
    expect(twice.module).toBe("block2");
    expect(instancesOf(twice.doc, "block")).toBe(1);
  });

  it("refuses an empty selection and fed nodes", () => {
    expect(makeBlock(MLP, [], observed)).toMatch(/Select/);
    expect(makeBlock(MLP, ["x", "l1"], observed)).toMatch(/x is fed/);
  });

  it("names several outputs by their inner values", () => {
    const doc: GraphDoc = {
      ...MLP,
      nodes: [
        ...MLP.nodes,
        { id: "skip", op: "relu", inputs: { x: "l1" }, ui: { x: 500, y: 100 } },
      ],
    };
    const made = makeBlock(doc, ["l1", "r1"], observed);
    if (typeof made === "string") throw new Error(made);
    expect((made.doc.modules as Modules).block.outputs).toEqual({ r1: "r1", l1: "l1" });
    expect(made.doc.nodes.find((n) => n.id === "skip")?.inputs).toEqual({ x: "block1:l1" });
  });
});

describe("instances on the canvas", () => {
  it("draw with the module's ports and round-trip through the document", () => {
    const made = makeBlock(MLP, ["l1", "r1"], observed);
    if (typeof made === "string") throw new Error(made);
    const modules = made.doc.modules as Modules;
    const ops = { ...OP_INDEX, ...moduleSpecs(modules) };
    expect(ops["module:block"].inputs.map((p) => p.name)).toEqual(["x"]);
    const { nodes, edges } = docToFlow(made.doc, ops);
    expect(nodes[2].data).toEqual({ op: "module:block", params: {} });
    expect(edges.find((e) => e.target === "l2")?.sourceHandle).toBe("y");
    const back = flowToDoc({ name: "mlp", state: made.doc.state, modules }, nodes, edges, ops);
    expect(back).toEqual(made.doc);
  });

  it("edit a definition as a document with @in and @out nodes, and back", () => {
    const made = makeBlock(MLP, ["l1", "r1"], observed);
    if (typeof made === "string") throw new Error(made);
    const def = (made.doc.modules as Modules).block;
    const edit = moduleToEditDoc("block", def);
    expect(edit.nodes.map((n) => [n.id, n.op])).toEqual([
      ["x", "@in"],
      ["l1", "linear"],
      ["r1", "relu"],
      ["y", "@out"],
    ]);
    expect(editDocToModule(edit)).toEqual(def);
  });
});

describe("editor store with modules", () => {
  beforeEach(() => {
    resetEditor(MLP);
  });
  const ed = () => useEditor.getState();

  it("makes a block from the selection, undoably", () => {
    ed().selectOnly(["l1", "r1"]);
    expect(ed().makeBlock()).toBeNull();
    expect(ed().nodes.map((n) => n.id)).toEqual(["x", "y", "block1", "l2", "c"]);
    expect(ed().nodes.find((n) => n.id === "block1")?.selected).toBe(true);
    expect(ed().toDoc().modules?.block.outputs).toEqual({ y: "r1" });
    expect(ed().toDoc().state).toEqual({ "block1/l1": { W: [[1, 2]], b: [0] } });
    ed().undo();
    expect(ed().nodes.map((n) => n.id)).toEqual(["x", "y", "l1", "r1", "l2", "c"]);
    expect(ed().toDoc().modules).toBeUndefined();
    expect(ed().toDoc().state).toEqual(MLP.state);
    ed().redo();
    expect(ed().ops["module:block"]?.outputs).toEqual([{ name: "y" }]);
  });

  it("edits a definition that every instance follows", () => {
    ed().selectOnly(["l1", "r1"]);
    ed().makeBlock();
    ed().enterModule("block");
    expect(ed().editing?.module).toBe("block");
    expect(ed().nodes.map((n) => n.id)).toEqual(["x", "l1", "r1", "y"]);
    ed().setParam("l1", "out_features", 8);
    // the whole graph is what validation and saving see, even mid-edit
    const mid = ed().toDoc();
    expect(mid.nodes.map((n) => n.id)).toEqual(["x", "y", "block1", "l2", "c"]);
    expect(mid.modules?.block.nodes[0].params).toEqual({ out_features: 8 });
    ed().leaveModule();
    expect(ed().editing).toBeNull();
    expect(ed().nodes.map((n) => n.id)).toEqual(["x", "y", "block1", "l2", "c"]);
    expect(ed().toDoc().modules?.block.nodes[0].params).toEqual({ out_features: 8 });
  });

  it("adds more instances of a module from its op", () => {
    ed().selectOnly(["l1", "r1"]);
    ed().makeBlock();
    expect(ed().addNode("module:block", { x: 0, y: 300 })).toBe("block2");
    const doc = ed().toDoc();
    expect(doc.nodes.find((n) => n.id === "block2")).toMatchObject({
      op: "module",
      params: { module: "block" },
    });
    ed().selectOnly(["block1"]);
    ed().copy();
    ed().paste();
    expect(ed().nodes.filter((n) => n.data.op === "module:block")).toHaveLength(3);
    expect(instancesOf(ed().toDoc(), "block")).toBe(3);
  });

  it("renames a module for every instance, and an instance's parameters with it", () => {
    ed().selectOnly(["l1", "r1"]);
    ed().makeBlock();
    ed().addNode("module:block", { x: 0, y: 300 });
    expect(ed().renameModule("block", "bad name")).toMatch(/letters/);
    expect(ed().renameModule("block", "hidden")).toBeNull();
    const doc = ed().toDoc();
    expect(Object.keys(doc.modules ?? {})).toEqual(["hidden"]);
    expect(instancesOf(doc, "hidden")).toBe(2);
    expect(ed().renameNode("block1", "first")).toBeNull();
    expect(ed().toDoc().state).toEqual({ "first/l1": { W: [[1, 2]], b: [0] } });
    ed().undo();
    ed().undo();
    expect(Object.keys(ed().toDoc().modules ?? {})).toEqual(["block"]);
  });

  it("adds ports to a module while editing it; its instances get them", () => {
    ed().selectOnly(["l1", "r1"]);
    ed().makeBlock();
    ed().enterModule("block");
    expect(ed().addNode("@in", { x: 0, y: 400 })).toBe("x1");
    expect(ed().addNode("@out", { x: 900, y: 400 })).toBe("y1");
    expect(
      ed().connect({ source: "x1", sourceHandle: "x", target: "y1", targetHandle: "y" }),
    ).toBeNull();
    ed().setParam("y1", "port", "skip");
    ed().leaveModule();
    const def = ed().toDoc().modules?.block;
    expect(def?.inputs).toEqual(["x", "x1"]);
    expect(def?.outputs).toEqual({ y: "r1", skip: "x1" });
    expect(ed().ops["module:block"].inputs.map((p) => p.name)).toEqual(["x", "x1"]);
  });

  it("expands and collapses an instance in place", () => {
    ed().selectOnly(["l1", "r1"]);
    ed().makeBlock();
    ed().toggleExpanded("block1");
    expect(ed().expanded).toEqual({ block1: true });
    ed().toggleExpanded("block1");
    expect(ed().expanded).toEqual({});
  });
});

describe("validation seen from inside an instance", () => {
  it("places inner results under inner ids and gives module inputs their shapes", () => {
    const v = {
      ok: false,
      order: ["x", "block1/l1", "block1/r1", "c"],
      shapes: { x: [2], "block1/l1": [4], "block1/r1": [4], c: [] },
      errors: [{ code: "bad_param", message: "m", nodes: ["block1/l1"], port: "out_features" }],
    };
    const got = scopeValidation(v, "block1", { x: "x" });
    expect(got.order).toEqual(["l1", "r1"]);
    expect(got.shapes).toEqual({ l1: [4], r1: [4], x: [2] });
    expect(got.errors[0].nodes).toEqual(["l1"]);
  });
});

describe("an instance's outputs in the flat graph", () => {
  const modules: Modules = {
    inner: {
      inputs: ["x"],
      outputs: { y: "t" },
      nodes: [{ id: "t", op: "relu", inputs: { x: "x" } }],
    },
    outer: {
      inputs: ["u"],
      outputs: { v: "i2", skip: "u" },
      nodes: [
        { id: "i1", op: "module", params: { module: "inner" }, inputs: { x: "u" } },
        { id: "i2", op: "module", params: { module: "inner" }, inputs: { x: "i1" } },
      ],
    },
  };
  it("follows nested instances to an inner node, and not through a pass-through", () => {
    expect(flatOutput(modules, "o", "outer", "v")).toBe("o/i2/t");
    expect(flatOutput(modules, "o", "outer")).toBe("o/i2/t");
    expect(flatOutput(modules, "o", "outer", "skip")).toBeNull();
    expect(flatOutput(modules, "b", "inner")).toBe("b/t");
  });
  it("gives the canvas's instance keys their shapes", () => {
    const shapes = { "o/i2/t": [3], "b/t": [2] };
    expect(
      instanceShapes(
        modules,
        [
          { id: "o", module: "outer" },
          { id: "b", module: "inner" },
        ],
        shapes,
      ),
    ).toEqual({ "o:v": [3], "b:y": [2], b: [2] });
  });
});
