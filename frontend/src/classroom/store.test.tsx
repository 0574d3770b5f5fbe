import { render, screen } from "@testing-library/react";
import { ReactFlowProvider } from "@xyflow/react";
import { act } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useEditor } from "../store/editor";
import { ExplainPanel } from "./ExplainPanel";
import { OPS, TWO_LAYER, TWO_RESULT } from "./fixtures";
import { NodeExplain } from "./NodeExplain";
import { onClassroomKey } from "./present";
import { nodeStage, useClassroom, viewOf } from "./store";

const cls = () => useClassroom.getState();

/** A server that answers explain with the recorded result and gradcheck with all-green. */
function fakeServer() {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  const fetchMock = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    const path = String(url);
    const body = init?.body ? JSON.parse(String(init.body)) : {};
    calls.push({ path, body });
    if (path.endsWith("/explain")) return new Response(JSON.stringify(TWO_RESULT));
    if (path.endsWith("/gradcheck")) {
      const errors = { l1: 1e-9, "l1.W": 2e-10, "l1.b": 1e-10, h: 3e-9 };
      return new Response(
        JSON.stringify({
          errors,
          max_error: 3e-9,
          ok: true,
          tolerance: 1e-4,
          elements: {},
          checked: {},
        }),
      );
    }
    return new Response("{}", { status: 404 });
  });
  return { fetchMock, calls };
}

describe("the classroom store", () => {
  let server: ReturnType<typeof fakeServer>;
  beforeEach(() => {
    useEditor.setState(useEditor.getInitialState(), true);
    useEditor.getState().setOps(OPS);
    useEditor.getState().loadDoc(TWO_LAYER);
    useClassroom.setState(useClassroom.getInitialState(), true);
    server = fakeServer();
    vi.stubGlobal("fetch", server.fetchMock);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("opening explains the graph, then steps forward and back", async () => {
    await act(async () => {
      cls().openExplain();
      await vi.waitFor(() => expect(cls().status).toBe("ready"));
    });
    expect(server.calls[0].path).toBe("/api/explain");
    expect(server.calls[0].body).not.toHaveProperty("inputs"); // the server picks the sample
    expect(cls().texts).toEqual({ x: "0.5, -1, 2", y: "1" });
    expect(cls().walk?.steps).toHaveLength(12);
    cls().next();
    cls().next();
    cls().next();
    expect(nodeStage(cls(), "l1")).toBe("value");
    expect(nodeStage(cls(), "h")).toBe("none");
    cls().last();
    expect(nodeStage(cls(), "l1")).toBe("grad");
    cls().prev();
    expect(cls().position).toBe(11);
    cls().goto(99);
    expect(cls().position).toBe(12);
    const view = viewOf(cls());
    expect(view.explain?.step).toBe(12);
    expect(view.explain?.inputs).toEqual(TWO_RESULT.inputs);
  });

  it("typed values are sent; a bad one is refused before any request", async () => {
    await act(async () => {
      cls().openExplain();
      await vi.waitFor(() => expect(cls().status).toBe("ready"));
    });
    cls().setText("x", "1 2");
    await cls().applyTexts();
    expect(cls().inputError).toMatch(/takes 3 numbers/);
    expect(server.calls).toHaveLength(1);
    cls().setText("x", "1 2 3");
    await cls().applyTexts();
    expect(server.calls[1].body.inputs).toEqual({ x: [[1, 2, 3]], y: [1] });
  });

  it("the gradient check sends the explained sample and samples big items", async () => {
    await act(async () => {
      await cls().runGradcheck();
    });
    const gc = server.calls.find((c) => c.path === "/api/gradcheck");
    expect(gc?.body.inputs).toEqual(TWO_RESULT.inputs);
    expect(gc?.body.per_item).toBe(32);
    expect(cls().gradcheck.result?.ok).toBe(true);
  });

  it("a follower mirrors the teacher's step and cannot move by itself", async () => {
    useClassroom.getState().follow(TWO_LAYER);
    const view = { explain: { inputs: TWO_RESULT.inputs, step: 4, seed: 0 } };
    await act(async () => {
      await cls().applyView(view, true);
    });
    expect(cls().position).toBe(4);
    cls().next();
    expect(cls().position).toBe(4);
    await act(async () => {
      await cls().applyView({ explain: { ...view.explain, step: 7 } }, false);
    });
    expect(cls().position).toBe(7);
    expect(server.calls.filter((c) => c.path === "/api/explain")).toHaveLength(1); // no refetch
  });

  it("arrow keys step, and leave text fields alone", async () => {
    await act(async () => {
      cls().openExplain();
      await vi.waitFor(() => expect(cls().status).toBe("ready"));
    });
    const key = (k: string, target: EventTarget = document.body) => {
      const e = new KeyboardEvent("keydown", { key: k, bubbles: true });
      Object.defineProperty(e, "target", { value: target });
      return onClassroomKey(e, false);
    };
    expect(key("ArrowRight")).toBe(true);
    expect(key("ArrowRight")).toBe(true);
    expect(cls().position).toBe(2);
    expect(key("ArrowLeft", document.createElement("input"))).toBe(false);
    expect(key("End")).toBe(true);
    expect(cls().position).toBe(12);
    expect(key("b")).toBe(true);
    expect(cls().backwardGraph).toBe(true);
  });

  it("renders the card and the node slot", async () => {
    await act(async () => {
      cls().openExplain();
      await vi.waitFor(() => expect(cls().status).toBe("ready"));
    });
    act(() => {
      cls().goto(3);
    });
    render(
      <ReactFlowProvider>
        <ExplainPanel />
        <NodeExplain id="l1" />
        <NodeExplain id="h" />
      </ReactFlowProvider>,
    );
    const card = screen.getByTestId("explain-card");
    expect(card.dataset.phase).toBe("forward");
    expect(card.dataset.node).toBe("l1");
    expect(JSON.parse(card.dataset.value ?? "null")).toEqual(TWO_RESULT.nodes[2].outputs[0].value);
    expect(screen.getByTestId("explain-ring-l1")).toBeTruthy();
    expect(screen.getByTestId("explain-value-l1").textContent).toMatch(/^\[/);
    expect(screen.queryByTestId("explain-value-h")).toBeNull();
    expect(screen.getByTestId("explain-step").dataset.position).toBe("3");
  });
});
