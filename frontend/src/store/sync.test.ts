import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LINREG, resetEditor } from "../test/fixtures";
import { useTrain } from "../train/store";
import { useEditor } from "./editor";
import { DRAFT_KEY, readDraft, startSync } from "./sync";

const ed = () => useEditor.getState();

/** A validate endpoint that reports a bad out_features and records what it was sent. */
function fakeValidate() {
  const bodies: unknown[] = [];
  const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
    const doc = JSON.parse(String(init?.body));
    bodies.push(doc);
    const lin = doc.nodes.find((n: { id: string }) => n.id === "lin");
    const bad = lin && lin.params.out_features < 1;
    const result = {
      ok: !bad,
      order: doc.nodes.map((n: { id: string }) => n.id),
      shapes: { x: [3], lin: [1] },
      errors: bad
        ? [
            {
              code: "bad_param",
              message: "out_features must be at least 1",
              nodes: ["lin"],
              port: "out_features",
            },
          ]
        : [],
    };
    return new Response(JSON.stringify(result), { status: 200 });
  });
  return { fetchMock, bodies };
}

describe("live validation and the local draft", () => {
  let stop: () => void;
  beforeEach(() => {
    vi.useFakeTimers();
    localStorage.clear();
    resetEditor(LINREG);
  });
  afterEach(() => {
    stop?.();
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("validates once after a burst of edits and marks the node at fault", async () => {
    const { fetchMock, bodies } = fakeValidate();
    vi.stubGlobal("fetch", fetchMock);
    stop = startSync();
    await vi.runAllTimersAsync();
    expect(ed().validation.status).toBe("valid");
    expect(ed().validation.shapes.lin).toEqual([1]);

    for (const v of [5, 0, -1]) ed().setParam("lin", "out_features", v);
    expect(ed().validation.status).toBe("pending");
    await vi.runAllTimersAsync();
    expect(bodies).toHaveLength(2); // the initial check, then one for the whole burst
    expect(ed().validation.status).toBe("invalid");
    expect(ed().validation.byNode.lin[0].port).toBe("out_features");
  });

  it("shows a 4xx answer as a graph error and a network failure as offline", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(
        async () =>
          new Response(
            JSON.stringify({ error: { code: "too_large", message: "too big", nodes: [] } }),
            {
              status: 413,
            },
          ),
      ),
    );
    stop = startSync();
    await vi.runAllTimersAsync();
    expect(ed().validation.status).toBe("invalid");
    expect(ed().validation.errors[0].code).toBe("too_large");

    vi.stubGlobal(
      "fetch",
      vi.fn(async () => Promise.reject(new TypeError("network down"))),
    );
    ed().setName("again");
    await vi.runAllTimersAsync();
    expect(ed().validation.status).toBe("offline");
  });

  it("autosaves a draft that restores the same document", async () => {
    vi.stubGlobal("fetch", fakeValidate().fetchMock);
    stop = startSync();
    ed().setName("my draft");
    await vi.runAllTimersAsync();
    expect(localStorage.getItem(DRAFT_KEY)).not.toBeNull();
    const draft = readDraft();
    expect(draft?.dirty).toBe(true);
    // the graph, and the dock's dataset and settings beside it (the whole experiment)
    const { dataset, train, ...graph } = draft?.doc ?? { version: 1, nodes: [] };
    expect(graph).toEqual({ ...LINREG, name: "my draft" });
    expect(dataset).toEqual(useTrain.getState().dataset);
    expect(train).toMatchObject({ epochs: useTrain.getState().settings.epochs });
  });

  it("keeps the stored revision the draft is based on, so a later save stays 409-safe", async () => {
    vi.stubGlobal("fetch", fakeValidate().fetchMock);
    stop = startSync();
    ed().markSaved("g1", 3);
    ed().setName("edited after saving");
    await vi.runAllTimersAsync();
    const draft = readDraft();
    expect(draft).toMatchObject({ graphId: "g1", graphRevision: 3, dirty: true });
  });
});
