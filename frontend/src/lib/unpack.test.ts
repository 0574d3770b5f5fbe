import { describe, expect, it } from "vitest";
import type { GraphDoc } from "../api/types";
import type { Modules } from "./modules";
import { unpackInstance } from "./unpack";

/** x → o (outer: a nested block, then a second output passing its input through) → c */
const NESTED: GraphDoc = {
  version: 1,
  name: "nested",
  modules: {
    inner: {
      inputs: ["h"],
      outputs: { y: "l" },
      nodes: [{ id: "l", op: "linear", params: { out_features: 3 }, inputs: { x: "h" } }],
    },
    outer: {
      inputs: ["x"],
      outputs: { z: "i", same: "x" },
      nodes: [{ id: "i", op: "module", params: { module: "inner" }, inputs: { h: "x" } }],
    },
  },
  nodes: [
    { id: "x", op: "input", params: { shape: [2] } },
    { id: "i", op: "relu", inputs: { x: "x" } },
    { id: "o", op: "module", params: { module: "outer" }, inputs: { x: "i" } },
    { id: "c", op: "concat", inputs: { a: "o:z", b: "o:same" } },
  ],
  state: { "o/i/l": { W: [[1, 2, 3]] }, i: { unrelated: [0] } },
};

describe("unpack", () => {
  it("inlines one level: a taken id made fresh, nested addresses and pass-through outputs", () => {
    const out = unpackInstance(NESTED, "o");
    if (typeof out === "string") throw new Error(out);
    expect(out.ids).toEqual(["i1"]);
    expect(out.doc.nodes.map((n) => [n.id, n.op, n.inputs])).toEqual([
      ["x", "input", undefined],
      ["i", "relu", { x: "x" }],
      ["i1", "module", { h: "i" }],
      ["c", "concat", { a: "i1", b: "i" }],
    ]);
    // the nested instance keeps its parameters under its new address
    expect(out.doc.state).toEqual({ "i1/l": { W: [[1, 2, 3]] }, i: { unrelated: [0] } });
    // outer has no instance left; inner still has one
    expect(Object.keys(out.doc.modules as Modules)).toEqual(["inner"]);
  });

  it("refuses tied instances and what is not an instance", () => {
    const tied: GraphDoc = {
      ...NESTED,
      nodes: [
        ...NESTED.nodes,
        { id: "o2", op: "module", params: { module: "outer", tie: "o" }, inputs: { x: "x" } },
      ],
    };
    expect(unpackInstance(tied, "o")).toMatch(/tie/);
    expect(unpackInstance(tied, "o2")).toMatch(/tie/);
    expect(unpackInstance(NESTED, "x")).toMatch(/not a module block/);
  });
});
