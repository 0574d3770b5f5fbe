// The walk through a graph that uses one module twice (the real backend's answer, recorded):
// each instance is one step by default (stepped over), or its inner nodes one by one (stepped
// into); the block's card writes its VJP, the sum of what its inner nodes send back.
import { render, screen } from "@testing-library/react";
import { ReactFlowProvider } from "@xyflow/react";
import { act } from "react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { useEditor } from "../store/editor";
import { announcement } from "./announce";
import {
  blockBackwardLines,
  blockForwardLines,
  blockParams,
  blockVjpRule,
  innerParts,
} from "./block";
import { ExplainPanel } from "./ExplainPanel";
import { MODULES_RESULT, OP_INDEX, OPS, SHARED_RESULT } from "./fixtures";
import { incomingLines } from "./lines";
import { NodeExplain } from "./NodeExplain";
import { onClassroomKey } from "./present";
import { nodeStage, useClassroom, viewOf } from "./store";
import type { Tensor } from "./types";
import { buildWalk, enclosing, intoTarget, type Step, stepInto, stepOut, type Walk } from "./walk";

const R = MODULES_RESULT;
const show = (s: Step) =>
  s.kind === "update" ? "update" : `${s.kind[0]}:${s.node}${s.block ? "[]" : ""}`;
const seq = (w: Walk) => w.steps.map(show);
const vec = (v: Tensor) => v as number[];
const add = (a: Tensor, b: Tensor) => vec(a).map((x, i) => x + vec(b)[i]);
const near = (a: Tensor, b: Tensor) => {
  expect(vec(a)).toHaveLength(vec(b).length);
  for (const [i, x] of vec(a).entries()) expect(x).toBeCloseTo(vec(b)[i], 12);
};

describe("the walk over module instances", () => {
  it("steps over each instance by default: one forward and one backward step each", () => {
    const w = buildWalk(R);
    // t is an input of b1: it runs first, though the flat order runs it between b1's inner nodes
    expect(R.order.indexOf("t")).toBeGreaterThan(R.order.indexOf("b1/l"));
    expect(seq(w)).toEqual([
      "f:x",
      "f:y",
      "f:t",
      "f:b1[]",
      "f:b2[]",
      "f:c",
      "b:c",
      "b:b2[]",
      "b:b1[]",
      "b:t",
      "b:y",
      "b:x",
      "update",
    ]);
    // the block's step shows every inner value (and, backward, every inner gradient)
    for (const id of ["b1/l", "b1/r", "b1/s"]) {
      expect(w.forwardAt[id]).toBe(4);
      expect(w.backwardAt[id]).toBe(9);
    }
    expect(w.forwardAt["b2/s"]).toBe(5);
  });

  it("steps into an instance: its inner nodes take its place, in one direction only", () => {
    const w = buildWalk(R, ["forward:b1", "backward:b2"]);
    expect(seq(w)).toEqual([
      "f:x",
      "f:y",
      "f:t",
      "f:b1/l",
      "f:b1/r",
      "f:b1/s",
      "f:b2[]",
      "f:c",
      "b:c",
      "b:b2/s",
      "b:b2/r",
      "b:b2/l",
      "b:b1[]",
      "b:t",
      "b:y",
      "b:x",
      "update",
    ]);
    expect(enclosing(w, w.steps[4]).map((b) => b.id)).toEqual(["b1"]);
    expect(enclosing(w, w.steps[6])).toEqual([]); // b2 forward: stepped over
    expect(enclosing(w, w.steps[10]).map((b) => b.id)).toEqual(["b2"]);
  });

  it("stepped into everywhere, it walks every node in a topological order, backward reversed", () => {
    const w = buildWalk(R, ["forward:b1", "forward:b2", "backward:b1", "backward:b2"]);
    const forward = w.steps
      .filter((s) => s.kind === "forward")
      .map((s) => (s as { node: string }).node);
    expect([...forward].sort()).toEqual([...R.order].sort());
    for (const [i, id] of forward.entries()) {
      for (const key of Object.values(w.byId[id].sources)) {
        expect(forward.indexOf(key.split(":")[0]), `${key} before ${id}`).toBeLessThan(i);
      }
    }
    const backward = w.steps
      .filter((s) => s.kind === "backward")
      .map((s) => (s as { node: string }).node);
    expect(backward).toEqual([...forward].reverse());
  });

  it("modules nest: into w shows w/m as one block, into w/m too its nodes", () => {
    const S = SHARED_RESULT;
    expect(seq(buildWalk(S)).slice(0, 5)).toEqual(["f:x", "f:y", "f:b1[]", "f:w[]", "f:c"]);
    const once = buildWalk(S, ["forward:w"]);
    expect(seq(once).slice(3, 5)).toEqual(["f:w/m[]", "f:c"]);
    expect(enclosing(once, once.steps[3]).map((b) => b.id)).toEqual(["w"]);
    // w/m's step covers its inner values, as w's did
    expect(once.forwardAt["w/m/s"]).toBe(4);
    const twice = stepInto(S, once, 3);
    expect(seq(twice?.walk as Walk).slice(3, 7)).toEqual(["f:w/m/l", "f:w/m/r", "f:w/m/s", "f:c"]);
    expect(enclosing(twice?.walk as Walk, twice?.walk.steps[4] as Step).map((b) => b.id)).toEqual([
      "w",
      "w/m",
    ]);
    // out of the innermost first: w/m whole again, still inside w
    const out = stepOut(S, twice?.walk as Walk, 5);
    expect(show(out?.walk.steps[(out?.position ?? 0) - 1] as Step)).toBe("f:w/m[]");
    expect(out?.walk.into).toEqual(["forward:w"]);
    // backward, b1's output is sent back by w as a whole (taken whole backward)
    const [line] = blockBackwardLines(once.blocks.b1, once);
    expect(line.label).toBe("sent back by w.a");
    near(once.blocks.w.vjps.a, add(once.blocks["w/m"].vjps.h, once.blocks["w/m"].vjps.k));
  });

  it("keys of instances the answer lacks are dropped", () => {
    expect(buildWalk(R, ["forward:b9", "forward:b1"]).into).toEqual(["forward:b1"]);
  });

  it("Step into opens the instance ahead (else the one shown); Step out takes it whole again", () => {
    const w = buildWalk(R);
    expect(intoTarget(w, 3)).toMatchObject({ kind: "forward", node: "b1" }); // t shown, b1 ahead
    expect(intoTarget(w, 4)).toMatchObject({ node: "b2" }); // b1 shown, b2 ahead: b2
    expect(intoTarget(w, 5)).toMatchObject({ node: "b2" }); // b2 shown, c ahead
    expect(intoTarget(w, 1)).toBeNull();
    const inside = stepInto(R, w, 3);
    expect(inside?.position).toBe(4);
    expect(show(inside?.walk.steps[3] as Step)).toBe("f:b1/l");
    expect(inside?.walk.into).toEqual(["forward:b1"]);
    // the walk through b1 comes out after its last inner node
    expect(show(inside?.walk.steps[6] as Step)).toBe("f:b2[]");
    const out = stepOut(R, inside?.walk as Walk, 5); // at b1/r
    expect(out?.position).toBe(4);
    expect(show(out?.walk.steps[3] as Step)).toBe("f:b1[]");
    expect(out?.walk.into).toEqual([]);
    expect(stepOut(R, w, 4)).toBeNull(); // not inside anything
    // backward: into b1 from its backward step
    const back = stepInto(R, w, 8); // b2 shown, b1 ahead
    expect(show(back?.walk.steps[(back?.position ?? 0) - 1] as Step)).toBe("b:b1/s");
  });
});

describe("the block's card", () => {
  const w = buildWalk(R);
  const [b1, b2] = [w.blocks.b1, w.blocks.b2];

  it("forward: its inputs and its output z = G(h, k; w)", () => {
    const lines = blockForwardLines(b1);
    expect(lines.map((l) => l.label)).toEqual([
      "input h ← x",
      "input k ← t",
      "its output, the module run on these inputs",
    ]);
    expect(lines[2].tex).toContain("G_{\\mathrm{mix}}(h, k;\\, w)");
    expect(lines[2].value).toEqual(w.byId["b1/s"].outputs[0].value);
  });

  it("backward: g from its consumer, and its VJP per input, the sum of its inner nodes' VJPs", () => {
    expect(blockVjpRule(b1)).toBe(
      "\\frac{\\partial C}{\\partial h} = \\left(\\frac{\\partial G_{\\mathrm{mix}}}{\\partial h}\\right)^{\\!\\top} g,\\quad " +
        "\\frac{\\partial C}{\\partial k} = \\left(\\frac{\\partial G_{\\mathrm{mix}}}{\\partial k}\\right)^{\\!\\top} g",
    );
    const lines = blockBackwardLines(b1, w);
    // b2 is one block backward too: it sends g back as a whole, through its port h
    expect(lines[0].label).toBe("sent back by b2.h");
    near(lines[0].value as Tensor, b2.vjps.h);
    near(b2.vjps.h, w.byId["b2/l"].vjps.x);
    // stepped into backward, its inner node is who sends it
    const into = buildWalk(R, ["backward:b2"]);
    expect(blockBackwardLines(into.blocks.b1, into)[0].label).toBe("sent back by b2/l.x");
    // h feeds b1/l only; k feeds b1/s only
    expect(innerParts(b1, "h", w.byId).map((p) => p.from)).toEqual(["b1/l.x"]);
    expect(innerParts(b1, "k", w.byId).map((p) => p.from)).toEqual(["b1/s.b"]);
    expect(b1.readers?.k).toEqual([{ node: "b1/s", port: "b" }]);
    expect(lines[1].label).toBe("to x (port h): the block's VJP, what b1/l.x sends back");
    near(lines[1].value as Tensor, w.byId["b1/l"].vjps.x);
    near(lines[2].value as Tensor, b1.vjps.k);
    near(b1.vjps.k, w.byId["b1/s"].vjps.b);
    // t feeds both instances: its gradient is the sum of the two blocks' VJPs to k
    near(w.byId.t.outputs[0].grad as Tensor, add(b1.vjps.k, b2.vjps.k));
  });

  it("a node read by two instances taken whole: their VJPs add up", () => {
    const [line] = incomingLines(w.byId.t, OP_INDEX.tanh, w.byId, w);
    expect(line.label).toBe("2 blocks use it (b1.k, b2.k): their gradients add up");
    const flat = incomingLines(w.byId.t, OP_INDEX.tanh, w.byId);
    expect(flat[0].label).toBe("2 blocks use it (b1/s.b, b2/s.b): their gradients add up");
  });

  it("two ports fed one value: each sends its own VJP back, and they add up", () => {
    const s = buildWalk(SHARED_RESULT);
    const b = s.blocks.b1;
    near(b.vjps.h, s.byId["b1/l"].vjps.x);
    near(b.vjps.k, s.byId["b1/s"].vjps.b);
    const [line] = incomingLines(s.byId.x, OP_INDEX.input, s.byId, s);
    expect(line.label).toBe("2 blocks use it (b1.h, b1.k): their gradients add up");
    near(line.value as Tensor, add(b.vjps.h, b.vjps.k));
    const vjps = blockBackwardLines(b, s).slice(1);
    expect(vjps.map((l) => l.label)).toEqual([
      "to x (port h): the block's VJP, what b1/l.x sends back",
      "to x (port k): the block's VJP, what b1/s.b sends back",
    ]);
  });

  it("a tied instance uses the parameters of the one it is tied to", () => {
    expect(blockParams(b1, R.state)).toEqual(["b1/l.W", "b1/l.b"]);
    expect(blockParams(b2, R.state)).toEqual(["b1/l.W", "b1/l.b"]);
  });
});

describe("the panel with module instances", () => {
  const cls = () => useClassroom.getState();
  beforeEach(() => {
    useEditor.setState(useEditor.getInitialState(), true);
    useEditor.getState().setOps(OPS);
    useClassroom.setState(
      {
        ...useClassroom.getInitialState(),
        open: true,
        status: "ready",
        result: R,
        walk: buildWalk(R),
      },
      true,
    );
  });
  afterEach(() => useClassroom.setState(useClassroom.getInitialState(), true));

  const press = (key: string) => {
    const e = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
    Object.defineProperty(e, "target", { value: document.body });
    return onClassroomKey(e, false);
  };

  it("the block is one step with its card and a ring; ↓ steps into it, ↑ out", () => {
    act(() => cls().goto(4));
    render(
      <ReactFlowProvider>
        <ExplainPanel />
        <NodeExplain id="b1/s" block="b1" />
      </ReactFlowProvider>,
    );
    const card = () => screen.getByTestId("explain-card");
    expect(card().dataset.node).toBe("b1");
    expect(card().dataset.module).toBe("mix");
    expect(screen.getByTestId("explain-ring-b1").dataset.whole).toBe("true");
    expect(nodeStage(cls(), "b1/s")).toBe("value");
    expect(screen.getByTestId("explain-announce").textContent).toBe(
      "Step 4 of 13: forward, module instance b1 (module mix) as one block.",
    );
    // Next goes over it; the buttons name the instance they act on
    act(() => cls().goto(3));
    expect(screen.getByTestId("explain-step-into").textContent).toContain("b1");
    expect(screen.getByTestId("explain-step-out")).toHaveProperty("disabled", true);
    act(() => {
      expect(press("ArrowDown")).toBe(true);
    });
    expect(card().dataset.node).toBe("b1/l");
    expect(screen.getByTestId("explain-inside").textContent).toBe("inside b1 (module mix)");
    expect(screen.getByTestId("explain-ring-b1").dataset.whole).toBe("false");
    expect(nodeStage(cls(), "b1/s")).toBe("none"); // not reached yet, inside
    expect(announcement(cls())).toBe("Step 4 of 15: inside b1 (module mix): forward b1/l.");
    expect(viewOf(cls()).explain?.into).toEqual(["forward:b1"]);
    act(() => {
      expect(press("u")).toBe(true);
    });
    expect(card().dataset.node).toBe("b1");
    expect(cls().into).toEqual([]);
  });

  it("the block's card walks through its own inner blocks, whatever comes next", () => {
    act(() => cls().goto(4)); // b1 shown, b2 ahead: ↓ would open b2
    render(
      <ReactFlowProvider>
        <ExplainPanel />
      </ReactFlowProvider>,
    );
    expect(screen.getByTestId("explain-step-into").dataset.block).toBe("b2");
    act(() => screen.getByTestId("explain-block-open").click());
    expect(screen.getByTestId("explain-card").dataset.node).toBe("b1/l");
    expect(cls().into).toEqual(["forward:b1"]);
  });

  it("backward, the card carries the block's VJP per input port", () => {
    act(() => cls().goto(9));
    render(
      <ReactFlowProvider>
        <ExplainPanel />
      </ReactFlowProvider>,
    );
    const card = screen.getByTestId("explain-card");
    expect(card.dataset.phase).toBe("backward");
    expect(JSON.parse(card.dataset.vjps ?? "{}")).toEqual(R.blocks?.[0].vjps);
    const values = [...screen.getByTestId("explain-block-vjps").querySelectorAll("li")].map((li) =>
      JSON.parse(li.dataset.value ?? "null"),
    );
    expect(values).toEqual([
      R.blocks?.[0].outputs.y.grad,
      R.blocks?.[0].vjps.h,
      R.blocks?.[0].vjps.k,
    ]);
  });

  it("a follower takes the teacher's steps into instances with the position", async () => {
    useClassroom.setState({ role: "follower", seed: 0 });
    await act(async () => {
      await cls().applyView(
        { explain: { inputs: R.inputs, seed: 0, step: 5, into: ["forward:b1"] } },
        false,
      );
    });
    expect(cls().into).toEqual(["forward:b1"]);
    expect(show(cls().walk?.steps[4] as Step)).toBe("f:b1/r");
    expect(cls().position).toBe(5);
    act(() => cls().stepOut()); // a follower cannot move by itself
    expect(cls().position).toBe(5);
  });
});
