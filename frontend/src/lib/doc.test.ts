import { describe, expect, it } from "vitest";
import type { GraphDoc } from "../api/types";
import { LINREG, OP_INDEX } from "../test/fixtures";
import { docToFlow, edgeId, flowToDoc, formatRef, parseRef } from "./doc";

describe("graph document <-> React Flow", () => {
  it("round-trips a document unchanged", () => {
    const { nodes, edges, dangling } = docToFlow(LINREG, OP_INDEX);
    expect(dangling).toEqual([]);
    expect(nodes.map((n) => n.id)).toEqual(["x", "y", "lin", "c"]);
    expect(edges).toHaveLength(3);
    expect(flowToDoc({ name: "linear regression" }, nodes, edges, OP_INDEX)).toEqual(LINREG);
  });

  it("derives one edge per input port, with handles named by ports", () => {
    const { edges } = docToFlow(LINREG, OP_INDEX);
    const e = edges.find((x) => x.id === edgeId("c", "target"));
    expect(e).toMatchObject({
      source: "y",
      sourceHandle: "y",
      target: "c",
      targetHandle: "target",
    });
  });

  it("keeps node:port references for ops with several outputs", () => {
    const doc: GraphDoc = {
      version: 1,
      name: "fan-out",
      description: "two copies of x, joined",
      nodes: [
        { id: "x", op: "input", params: { shape: [2] }, ui: { x: 0, y: 0 } },
        { id: "d", op: "duplicate", inputs: { x: "x" }, ui: { x: 100, y: 0 } },
        { id: "cat", op: "concat", inputs: { a: "d:y1", b: "d:y2" }, ui: { x: 200, y: 0 } },
      ],
      state: { lin: { W: [[1]] } },
    };
    const { nodes, edges } = docToFlow(doc, OP_INDEX);
    expect(edges.map((e) => e.sourceHandle).sort()).toEqual(["y", "y1", "y2"]);
    expect(
      flowToDoc(
        { name: "fan-out", description: doc.description, state: doc.state },
        nodes,
        edges,
        OP_INDEX,
      ),
    ).toEqual(doc);
  });

  it("orders inputs as the op declares them", () => {
    const { nodes, edges } = docToFlow(LINREG, OP_INDEX);
    const doc = flowToDoc({ name: "n" }, nodes, [...edges].reverse(), OP_INDEX);
    expect(Object.keys(doc.nodes[3].inputs ?? {})).toEqual(["y", "target"]);
  });

  it("drops links to missing nodes and reports them", () => {
    const doc: GraphDoc = {
      version: 1,
      name: "broken",
      nodes: [{ id: "r", op: "relu", inputs: { x: "ghost" } }],
    };
    const { edges, dangling } = docToFlow(doc, OP_INDEX);
    expect(edges).toEqual([]);
    expect(dangling).toEqual(["r.x ← ghost"]);
  });

  it("places nodes without ui in columns by depth", () => {
    const doc: GraphDoc = {
      ...LINREG,
      nodes: LINREG.nodes.map(({ ui: _ui, ...n }) => n),
    };
    const { nodes } = docToFlow(doc, OP_INDEX);
    const x = Object.fromEntries(nodes.map((n) => [n.id, n.position.x]));
    expect(x.x).toBeLessThan(x.lin);
    expect(x.lin).toBeLessThan(x.c);
  });

  it("parses and formats references", () => {
    expect(parseRef("a")).toEqual({ node: "a", port: null });
    expect(parseRef("d:y2")).toEqual({ node: "d", port: "y2" });
    expect(formatRef("lin", "y", OP_INDEX.linear)).toBe("lin");
    expect(formatRef("d", "y1", OP_INDEX.duplicate)).toBe("d:y1");
  });
});
