import { describe, expect, it } from "vitest";
import { buildBackward } from "./backward";
import { FAN, FAN_RESULT, OP_INDEX, TWO_LAYER, TWO_RESULT } from "./fixtures";
import { badgesFor } from "./Gradcheck";
import { forwardLines, incomingLines, ruleLines, updateLine } from "./lines";
import { bodyClasses, readUrlFlags } from "./present";
import { feedsFromRow, feedText, parseFeed } from "./sample";
import { compact, fillTemplate, fmt, symbolOf, texValue } from "./tex";
import type { Tensor } from "./types";
import { buildWalk, paramKeys, updated } from "./walk";

const byId = (r: typeof TWO_RESULT) => Object.fromEntries(r.nodes.map((n) => [n.id, n]));

describe("numbers and templates as LaTeX", () => {
  it("formats numbers with four significant digits", () => {
    expect(fmt(0.123456)).toBe("0.1235");
    expect(fmt(-2)).toBe("-2");
    expect(fmt(1.5e-7)).toBe("1.5e-7");
    expect(fmt(null)).toBe("NaN");
  });

  it("writes vectors as columns and elides big matrices", () => {
    expect(texValue([1, 2])).toBe("\\begin{bmatrix}1\\\\2\\end{bmatrix}");
    const big = Array.from({ length: 10 }, (_, i) => Array.from({ length: 10 }, (_, j) => i + j));
    const tex = texValue(big);
    expect(tex).toContain("\\vdots");
    expect(tex).toContain("\\cdots");
    expect(tex).toContain("\\ddots");
    expect(texValue([[[1]]])).toContain("1\\times1\\times1");
    expect(texValue(-0.5, true)).toBe("(-0.5)");
  });

  it("fills a template with symbols or with numbers, dropping optional parts", () => {
    const values: Record<string, Tensor> = { W: [[1, 2]], x: [3, 4], g: [1] };
    const lookup = (n: string) => values[n];
    const tpl = "@W\\, @x@[ + @b@]";
    expect(fillTemplate(tpl, "symbolic", lookup)).toBe("{W}\\, {x}");
    expect(fillTemplate(tpl, "numeric", lookup)).toContain("\\begin{bmatrix}1&2\\end{bmatrix}");
    expect(fillTemplate("@g.y1 + @g.y2", "symbolic", () => 1)).toBe(
      "{\\frac{\\partial C}{\\partial y_{1}}} + {\\frac{\\partial C}{\\partial y_{2}}}",
    );
    expect(symbolOf("g", { ans: "c" })).toBe("\\frac{\\partial C}{\\partial c}");
  });

  it("keeps chips on nodes short", () => {
    expect(compact([1, 2, 3])).toBe("[1, 2, 3]");
    expect(compact([1, 2, 3, 4])).toBe("[1, 2, … 4]");
    expect(compact([[1, 2, 3]])).toBe("[1, 2, … 1×3]");
  });
});

describe("the walk", () => {
  it("goes forward over every node, backward over those with a gradient, then updates", () => {
    const w = buildWalk(TWO_RESULT);
    expect(w.steps.map((s) => (s.kind === "update" ? "update" : `${s.kind[0]}:${s.node}`))).toEqual(
      ["f:x", "f:y", "f:l1", "f:h", "f:l2", "f:c", "b:c", "b:l2", "b:h", "b:l1", "b:x", "update"],
    );
    expect(w.forwardAt.l1).toBe(3);
    expect(w.backwardAt.y).toBeUndefined(); // class labels carry no gradient
    expect(paramKeys(TWO_RESULT)).toEqual(["l1.W", "l1.b", "l2.W", "l2.b"]);
  });

  it("computes the update w − η g", () => {
    expect(updated([[1, 2]], [[0.5, -1]], 0.1)).toEqual([[0.95, 2.1]]);
  });
});

describe("what the card writes", () => {
  it("Linear forward: W x + b with the numbers equals the value", () => {
    const l1 = byId(TWO_RESULT).l1;
    const [line] = forwardLines(l1, OP_INDEX.linear, TWO_RESULT);
    expect(line.value).toEqual(l1.outputs[0].value);
    expect(line.tex).toContain("\\begin{aligned}z &=");
    expect(line.tex).toContain(texValue(l1.env.x as Tensor, true));
  });

  it("Linear backward: dC/dx = Wᵀ dC/dz and dC/dW = dC/dz xᵀ with the numbers", () => {
    const l2 = byId(TWO_RESULT).l2;
    const lines = ruleLines(l2, OP_INDEX.linear, TWO_RESULT);
    expect(lines.map((l) => l.label)).toEqual([
      "to h (port x)",
      "parameter W: for the update",
      "parameter b: for the update",
    ]);
    expect(lines[0].tex).toContain("{W}^\\top {\\frac{\\partial C}{\\partial z}}");
    expect(lines[0].tex).toContain(`${texValue(TWO_RESULT.state.l2.W, true)}}^\\top`);
    expect(lines[0].value).toEqual(l2.vjps.x);
    expect(lines[1].value).toEqual(TWO_RESULT.param_grads.l2.W);
  });

  it("a cost receives 1; a value used twice sums what comes back (Duplicate, Add)", () => {
    const nodes = byId(FAN_RESULT);
    const [seed] = incomingLines(nodes.c, OP_INDEX.squared_error, nodes);
    expect(seed.tex).toBe("\\frac{\\partial C}{\\partial c} = 1");
    const dup = incomingLines(nodes.d, OP_INDEX.duplicate, nodes);
    expect(dup.map((l) => l.label)).toEqual(["sent back by a.x", "sent back by s.b"]);
    const [rule] = ruleLines(nodes.d, OP_INDEX.duplicate, FAN_RESULT);
    expect(rule.tex).toContain(
      "\\frac{\\partial C}{\\partial z_1}} + {\\frac{\\partial C}{\\partial z_2}",
    );
    const add = ruleLines(nodes.s, OP_INDEX.add, FAN_RESULT);
    expect(add[0].value).toEqual(nodes.s.outputs[0].grad);
    expect(add[1].value).toEqual(nodes.s.outputs[0].grad);
  });

  it("the update step plugs in w, η and the gradient", () => {
    const line = updateLine(TWO_RESULT, "l2.b", 0.5);
    expect(line?.tex).toContain("\\leftarrow");
    const b = TWO_RESULT.state.l2.b as number[];
    const g = TWO_RESULT.param_grads.l2.b as number[];
    expect(line?.value).toEqual(b.map((v, i) => v - 0.5 * g[i]));
  });
});

describe("the transformed graph", () => {
  it("reverses every edge that carries a gradient and marks fan-in sums", () => {
    const { nodes, edges } = buildBackward(FAN, OP_INDEX, FAN_RESULT);
    const e = edges.map((x) => `${x.source}.${x.sourceHandle}→${x.target}.${x.targetHandle}`);
    expect(e).toContain("d.dx-x→x.dy-y");
    expect(e).toContain("s.dx-b→d.dy-y2");
    expect(e).toContain("c.dx-target→t.dy-y"); // float targets get a gradient too
    const d = nodes.find((n) => n.id === "d");
    expect(d?.data.lines[0].tex).toContain("+");
    expect(nodes.find((n) => n.id === "c")?.data.kind).toBe("seed");
    const two = buildBackward(TWO_LAYER, OP_INDEX, TWO_RESULT);
    expect(two.edges.find((x) => x.target === "y")).toBeUndefined(); // labels: no gradient
    expect(two.nodes.find((n) => n.id === "l1")?.data.lines.map((l) => l.to)).toEqual([
      "port",
      "param",
      "param",
    ]);
  });
});

describe("the sample", () => {
  const feed = { id: "x", role: "input" as const, shape: [2, 2], dtype: "float" as const };
  it("parses typed numbers into the feed's shape", () => {
    expect(parseFeed("1, 2\n3 4", feed).value).toEqual([
      [
        [1, 2],
        [3, 4],
      ],
    ]);
    expect(parseFeed("[1,2,3]", feed).error).toMatch(/takes 4 numbers/);
    expect(parseFeed("1 a 2 3", feed).error).toMatch(/“a” is not a number/);
    expect(parseFeed("1.5", { ...feed, shape: [], dtype: "int" }).error).toMatch(/class label/);
    expect(feedText([[0.25, -1]])).toBe("0.25, -1");
  });

  it("takes one dataset row", () => {
    const feeds = TWO_RESULT.feeds;
    expect(feedsFromRow(feeds, [1, 2, 3], 1).inputs).toEqual({ x: [[1, 2, 3]], y: [1] });
    expect(feedsFromRow(feeds, [1, 2], 1).error).toMatch(/takes 3 numbers/);
  });
});

describe("gradient-check badges", () => {
  it("give each node its worst value error and each parameter its own", () => {
    const r = {
      errors: { l1: 1e-9, "l1.W": 2e-9, "l1.b": 0.5, l10: 0.1 },
      max_error: 0.5,
      ok: false,
      tolerance: 1e-4,
      elements: { "l1.W": 12 },
      checked: { "l1.W": 12 },
    };
    const b = badgesFor(r, "l1");
    expect(b.value?.ok).toBe(true);
    expect(b.params.map((p) => [p.label, p.ok])).toEqual([
      ["W", true],
      ["b", false],
    ]);
  });

  it("give a module instance the worst of its inner values and every inner parameter", () => {
    const r = {
      errors: { "b1/l": 1e-9, "b1/t": 0.3, "b1/l.W": 2e-9, "b10/l": 0.9, b1: 0.9 },
      max_error: 0.9,
      ok: false,
      tolerance: 1e-4,
    };
    const b = badgesFor(r, "b1", true);
    expect([b.value?.key, b.value?.ok]).toEqual(["b1/t", false]);
    expect(b.params.map((p) => [p.key, p.label])).toEqual([["b1/l.W", "l.W"]]);
  });
});

describe("presentation URL options", () => {
  it("reads present, hide, show, explain and step", () => {
    const f = readUrlFlags("?present=1&hide=sample,bogus&show=topbar&step=4");
    expect(f.present).toBe(true);
    expect(f.hidden).toEqual(["palette", "inspector", "minimap", "dock", "sample"]);
    expect(f.explain).toBe(true);
    expect(f.step).toBe(4);
    expect(readUrlFlags("?hide=palette,inspector")).toEqual({
      present: false,
      hidden: ["palette", "inspector"],
      explain: false,
      step: null,
    });
    expect(bodyClasses(true, ["palette"], true)).toEqual([
      "cx-present",
      "cx-explaining",
      "cx-hide-palette",
    ]);
  });
});
