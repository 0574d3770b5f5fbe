import { render, screen } from "@testing-library/react";
import { ReactFlowProvider } from "@xyflow/react";
import { act } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useEditor } from "../store/editor";
import { useTrain } from "../train/store";
import { ExplainPanel } from "./ExplainPanel";
import { OPS, TWO_LAYER, TWO_RESULT } from "./fixtures";
import { NodeExplain } from "./NodeExplain";
import { onClassroomKey } from "./present";
import { nodeStage, useClassroom, viewOf } from "./store";

const cls = () => useClassroom.getState();

const NORMALIZED = { x: { mean: [0.5, 0, -1], std: [1, 2, 4] } };

/** A server that answers explain with the recorded result (with `run` when a run_id is sent,
 * or `refuse` when it refuses that run) and gradcheck with all-green. */
function fakeServer(opts: { refuse?: string; inputs?: Record<string, unknown> } = {}) {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  const fetchMock = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    const path = String(url);
    const body = init?.body ? JSON.parse(String(init.body)) : {};
    calls.push({ path, body });
    if (path.endsWith("/explain") && body.run_id && opts.refuse) {
      const error = { code: opts.refuse, message: "'l1.W' is [8, 3] in the run", nodes: ["l1"] };
      return new Response(JSON.stringify({ error: { ...error, port: null } }), { status: 422 });
    }
    const inputs = body.inputs ?? opts.inputs ?? TWO_RESULT.inputs;
    if (path.endsWith("/explain") && body.run_id) {
      const step = body.run_step ?? 40;
      const run = { id: body.run_id, step, normalized: NORMALIZED };
      return new Response(JSON.stringify({ ...TWO_RESULT, inputs, run }));
    }
    if (path.endsWith("/explain")) return new Response(JSON.stringify({ ...TWO_RESULT, inputs }));
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

/** The training dock's run (the fields the classroom reads; the rest as the dock keeps them). */
function dockRun(id: string, step: number) {
  useTrain.setState({
    run: {
      id,
      graphId: null,
      name: "run",
      status: "paused",
      live: true,
      queue: null,
      reason: null,
      step,
      epoch: step,
      divergedNode: null,
      error: null,
      config: {},
      dataset: { name: "spiral", seed: 0, test_fraction: 0.2, normalize: true },
      canControl: true,
      createdAt: 0,
      sig: null,
    },
  });
}

describe("explain with trained weights", () => {
  let server: ReturnType<typeof fakeServer>;
  const explains = () => server.calls.filter((c) => c.path === "/api/explain");
  const open = async () => {
    await act(async () => {
      cls().openExplain();
      await vi.waitFor(() => expect(cls().status).toBe("ready"));
    });
  };
  beforeEach(() => {
    useEditor.setState(useEditor.getInitialState(), true);
    useEditor.getState().setOps(OPS);
    useEditor.getState().loadDoc(TWO_LAYER);
    useClassroom.setState(useClassroom.getInitialState(), true);
    useTrain.setState({ run: null });
    server = fakeServer();
    vi.stubGlobal("fetch", server.fetchMock);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    useTrain.setState({ run: null });
  });

  it("without a run in the dock: the initial weights, no run_id", async () => {
    await open();
    expect(explains()[0].body).not.toHaveProperty("run_id");
    expect(cls().result?.run ?? null).toBeNull();
  });

  it("a dock run that has trained is the default; the choice re-explains, run_id or not", async () => {
    dockRun("abcdef123456", 40);
    await open();
    expect(explains()[0].body.run_id).toBe("abcdef123456");
    expect(explains()[0].body).not.toHaveProperty("run_step");
    expect(cls().result?.run).toEqual({ id: "abcdef123456", step: 40, normalized: NORMALIZED });

    await act(async () => {
      await cls().setWeights("initial");
    });
    expect(explains()).toHaveLength(2);
    expect(explains()[1].body).not.toHaveProperty("run_id");
    expect(explains()[1].body.inputs).toEqual(TWO_RESULT.inputs); // the same sample, exactly
    expect(cls().result?.run ?? null).toBeNull();

    await act(async () => {
      cls().toggleWeights(); // W
      await vi.waitFor(() => expect(explains()).toHaveLength(3));
      await vi.waitFor(() => expect(cls().status).toBe("ready"));
    });
    expect(explains()[2].body.run_id).toBe("abcdef123456");
    expect(cls().weights).toBe("trained");
  });

  it("switching weights sends the very sample, not its rounded text", async () => {
    const exact = { x: [[0.123456789, -1.987654321, 2]], y: [1] };
    server = fakeServer({ inputs: exact });
    vi.stubGlobal("fetch", server.fetchMock);
    dockRun("abcdef123456", 40);
    await open();
    expect(cls().texts.x).toBe("0.1235, -1.988, 2");
    await act(async () => {
      await cls().setWeights("initial");
    });
    expect(explains()[1].body.inputs).toEqual(exact);
    // an edited text is what is sent
    cls().setText("x", "1, 2, 3");
    await act(async () => {
      await cls().setWeights("trained");
    });
    expect(explains()[2].body.inputs).toEqual({ x: [[1, 2, 3]], y: [1] });
  });

  it("a run at step 0 is offered, not the default", async () => {
    dockRun("fresh0000000", 0);
    await open();
    expect(explains()[0].body).not.toHaveProperty("run_id");
    await act(async () => {
      await cls().setWeights("trained");
    });
    expect(explains()[1].body.run_id).toBe("fresh0000000");
  });

  it("by default, trained weights that do not fit fall back to the initial ones, saying why", async () => {
    server = fakeServer({ refuse: "state_mismatch" });
    vi.stubGlobal("fetch", server.fetchMock);
    dockRun("abcdef123456", 40);
    await open();
    expect(explains().map((c) => c.body.run_id ?? null)).toEqual(["abcdef123456", null]);
    expect(cls().result?.run ?? null).toBeNull();
    expect(cls().weightsNote).toMatch(/run abcdef do not fit: 'l1.W' is \[8, 3\]/);
    // chosen explicitly, the refusal is the answer
    await act(async () => {
      await cls().setWeights("trained");
    });
    expect(cls().status).toBe("error");
    expect(cls().error).toMatch(/l1.W/);
  });

  it("the panel re-explains when a run appears in the dock", async () => {
    await open();
    render(
      <ReactFlowProvider>
        <ExplainPanel />
      </ReactFlowProvider>,
    );
    const select = screen.getByTestId("explain-weights") as HTMLSelectElement;
    expect(select.value).toBe("initial");
    expect(select.disabled).toBe(true);
    await act(async () => {
      dockRun("abcdef123456", 12);
      await vi.waitFor(() => expect(explains()).toHaveLength(2));
      await vi.waitFor(() => expect(cls().status).toBe("ready"));
    });
    expect(explains()[1].body.run_id).toBe("abcdef123456");
    expect(select.value).toBe("trained");
    expect(select.selectedOptions[0].textContent).toBe("trained — run abcdef, step 40");
    const line = screen.getByTestId("explain-card-weights");
    expect(line.dataset.step).toBe("40");
    expect(line.textContent).toMatch(/trained weights of run abcdef at step 40/);
    // the input's card shows the normalisation
    act(() => cls().goto(1));
    const note = screen.getByTestId("explain-normalized");
    expect(JSON.parse(note.dataset.std ?? "null")).toEqual([1, 2, 4]);
    // the run trains on: one click brings its newer parameters
    act(() => dockRun("abcdef123456", 90));
    expect(screen.getByTestId("explain-weights-refresh").textContent).toBe("↻ step 90");
  });

  it("the broadcast carries the run and its step; a follower asks for the same", async () => {
    dockRun("abcdef123456", 40);
    await open();
    const view = viewOf(cls());
    expect(view.explain?.run_id).toBe("abcdef123456");
    expect(view.explain?.run_step).toBe(40);

    useClassroom.setState(useClassroom.getInitialState(), true);
    useTrain.setState({ run: null }); // a student's page has no dock run
    cls().follow(TWO_LAYER);
    await act(async () => {
      await cls().applyView(view, true);
    });
    const last = explains()[explains().length - 1];
    expect(last.body.run_id).toBe("abcdef123456");
    expect(last.body.run_step).toBe(40);
    expect(cls().result?.run?.step).toBe(40);
    const n = explains().length;
    await act(async () => {
      await cls().applyView({ explain: { ...view.explain, step: 3 } }, false);
    });
    expect(explains()).toHaveLength(n); // same run and step: no refetch
    expect(cls().position).toBe(3);
    await act(async () => {
      await cls().applyView({ explain: { ...view.explain, run_id: null, run_step: null } }, false);
    });
    expect(explains()).toHaveLength(n + 1);
    expect(explains()[n].body).not.toHaveProperty("run_id");
  });

  it("the gradient check of trained weights sends them and the sample as the graph saw it", async () => {
    dockRun("abcdef123456", 40);
    await open();
    await act(async () => {
      await cls().runGradcheck();
    });
    const gc = server.calls.find((c) => c.path === "/api/gradcheck");
    if (!gc) throw new Error("no gradcheck request");
    expect((gc.body.graph as { state?: unknown }).state).toEqual(TWO_RESULT.state);
    const x = TWO_RESULT.nodes.find((n) => n.id === "x")?.outputs[0].value;
    expect((gc.body.inputs as Record<string, unknown>).x).toEqual([x]);
  });
});
