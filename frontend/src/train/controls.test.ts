// The run controls against a fake server: ▶ starts, resumes or restarts as a person expects.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useEditor } from "../store/editor";
import { LINREG, resetEditor } from "../test/fixtures";
import { localRuns } from "./persist";
import { useTrain } from "./store";

class SilentSocket {
  readyState = 0;
  onmessage = null;
  onclose = null;
  onerror = null;
  onopen = null;
  send() {}
  close() {}
}

interface Call {
  method: string;
  path: string;
  body: unknown;
  token: string | null;
  client: string | null;
}

let calls: Call[] = [];
let runs = 0;
let full = false; // the server runs its maximum of runs
/** a test's own answers, before the fake server's (undefined: the fake server answers) */
let reply:
  | ((method: string, path: string, body: Record<string, unknown>) => unknown | Promise<unknown>)
  | null = null;

function run(id: string, status: string, config: Record<string, unknown> = {}) {
  return {
    id,
    graph_id: null,
    name: "",
    status,
    step: 0,
    epoch: 0,
    last_seq: 0,
    checkpoint_step: null,
    dataset: { name: "spiral", seed: 0, test_fraction: 0.2, normalize: true },
    config: {
      lr: 0.1,
      epochs: 100,
      batch_size: 32,
      optimizer: "sgd",
      momentum: 0.9,
      l1: 0,
      l2: 0,
      speed: 0,
      ...config,
    },
    created_at: 1,
    started_at: 1,
    finished_at: null,
    updated_at: 1,
  };
}

beforeEach(() => {
  calls = [];
  runs = 0;
  full = false;
  reply = null;
  localStorage.clear();
  resetEditor(LINREG);
  vi.stubGlobal("WebSocket", SilentSocket);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const path = url.replace(/^\/api/, "");
      const method = init?.method ?? "GET";
      const body = init?.body ? JSON.parse(String(init.body)) : null;
      const headers = (init?.headers ?? {}) as Record<string, string>;
      calls.push({
        method,
        path,
        body,
        token: headers["X-Edit-Token"] ?? null,
        client: headers["X-Client-Id"] ?? null,
      });
      let out: unknown = await reply?.(method, path, body);
      if (out !== undefined) return new Response(JSON.stringify(out), { status: 200 });
      out = [];
      if (method === "POST" && path === "/runs" && full) {
        const error = {
          code: "too_many_runs",
          message:
            "You already have 3 runs training or waiting, the most one person may have at once. " +
            "Stop one of them to start another.",
          nodes: [],
          port: null,
        };
        return new Response(JSON.stringify({ error }), { status: 429 });
      }
      if (method === "GET" && path.startsWith("/runs?ids=")) {
        out = [run("mine", "paused"), run("old", "done")];
      } else if (method === "POST" && path === "/runs") {
        runs++;
        out = {
          ...run(`r${runs}`, body.paused ? "paused" : "running", body.train),
          edit_token: `t${runs}`,
        };
      } else if (method === "POST" && path.endsWith("/resume")) out = run("r1", "running");
      else if (method === "POST" && path.endsWith("/pause")) out = run("r1", "paused");
      else if (method === "POST" && path.endsWith("/stop")) out = run("r1", "stopped");
      else if (method === "POST" && path.endsWith("/step"))
        out = { ...run("r1", "paused"), step: 1 };
      else if (method === "PATCH") out = run("r1", "paused", body);
      else if (method === "GET" && /^\/runs\/[^/?]+$/.test(path))
        out = run(path.slice(6), "paused");
      return new Response(JSON.stringify(out), {
        status: method === "POST" && path === "/runs" ? 201 : 200,
      });
    }),
  );
  useTrain.getState().detach();
  useTrain.setState({
    settings: {
      ...useTrain.getState().settings,
      lr: 0.1,
      epochs: 100,
      batch_size: 32,
      optimizer: "sgd",
    },
    dataset: { name: "spiral", seed: 0, test_fraction: 0.2, normalize: true },
    busy: null,
    message: null,
  });
});

afterEach(() => {
  useTrain.getState().detach();
  vi.unstubAllGlobals();
});

const posts = () => calls.filter((c) => c.method !== "GET").map((c) => `${c.method} ${c.path}`);

describe("run controls", () => {
  it("▶ starts a run of the graph as drawn, remembered for this graph and in the URL", async () => {
    await useTrain.getState().play();
    const create = calls.find((c) => c.path === "/runs");
    expect(create?.body).toMatchObject({
      dataset: { name: "spiral" },
      train: { lr: 0.1 },
      paused: false,
    });
    const graph = (create?.body as { graph: { nodes: unknown[] } } | undefined)?.graph;
    expect(graph?.nodes).toHaveLength(4);
    expect(useTrain.getState().run?.id).toBe("r1");
    expect(window.location.search).toBe("?run=r1");
    expect(localRuns.ids()).toEqual(["r1"]);
    expect(localStorage.getItem("blockprop:runtoken:r1")).toBe("t1");
  });

  it("▶ on a paused run resumes it, sending changed live settings first", async () => {
    await useTrain.getState().play();
    await useTrain.getState().pause();
    expect(useTrain.getState().run?.status).toBe("paused");
    useTrain.setState({ settings: { ...useTrain.getState().settings, lr: 0.01 } });
    await useTrain.getState().play();
    expect(posts()).toEqual([
      "POST /runs",
      "POST /runs/r1/pause",
      "PATCH /runs/r1",
      "POST /runs/r1/resume",
    ]);
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ lr: 0.01 });
    expect(calls.at(-1)?.token).toBe("t1");
  });

  it("▶ after the graph or a fixed setting changed starts a new run (stopping the old one)", async () => {
    await useTrain.getState().play();
    await useTrain.getState().pause();
    useTrain.getState().setSetting("batch_size", 8);
    await useTrain.getState().play();
    expect(posts()).toEqual([
      "POST /runs",
      "POST /runs/r1/pause",
      "POST /runs/r1/stop",
      "POST /runs",
    ]);
    expect(useTrain.getState().run?.id).toBe("r2");
  });

  it("a live setting reaches the running run at once", async () => {
    await useTrain.getState().play();
    useTrain.getState().setSetting("lr", 0.5);
    await vi.waitFor(() => expect(posts()).toContain("PATCH /runs/r1"));
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ lr: 0.5 });
  });

  it("step with no run starts one paused and takes one step", async () => {
    await useTrain.getState().stepOnce();
    expect(posts()).toEqual(["POST /runs", "POST /runs/r1/step"]);
    expect(calls[0].body).toMatchObject({ paused: true });
    expect(calls.find((c) => c.path.endsWith("/step"))?.body).toEqual({ n: 1 });
  });

  it("reset stops the run and forgets it", async () => {
    await useTrain.getState().play();
    await useTrain.getState().reset();
    expect(posts()).toContain("POST /runs/r1/stop");
    expect(useTrain.getState().run).toBeNull();
    expect(window.location.search).toBe("");
    expect(localRuns.last()).toBeNull();
  });

  it("a run without its edit token is watched read-only", async () => {
    await useTrain.getState().attach(run("other", "running") as never);
    expect(useTrain.getState().run?.canControl).toBe(false);
    await useTrain.getState().pause();
    expect(useTrain.getState().message?.text).toMatch(/watched, not controlled/);
  });
});

describe("a full server", () => {
  it("says so, and can stop this browser's live runs to make room", async () => {
    full = true;
    await useTrain.getState().play();
    expect(useTrain.getState().message).toMatchObject({
      kind: "error",
      busyServer: true,
      text: expect.stringMatching(/^You already have 3 runs training or waiting/),
    });
    localStorage.setItem("blockprop:runtoken:mine", "tm");
    localStorage.setItem("blockprop:runtoken:old", "to");
    full = false;
    expect(await useTrain.getState().stopMyRuns()).toBe(1);
    const stop = calls.find((c) => c.path === "/runs/mine/stop");
    expect(stop?.token).toBe("tm");
    expect(calls.some((c) => c.path === "/runs/old/stop")).toBe(false);
  });
});

describe("a run the pool has no room for", () => {
  const QUEUED = {
    ...run("q1", "queued"),
    live: false,
    reason: "waiting for a free place to train: 2 ahead of you",
    queue: { position: 3, ahead: 2, eta_seconds: 20 },
  };
  beforeEach(() => {
    reply = (method, path) => {
      if (method === "POST" && path === "/runs") return { ...QUEUED, edit_token: "tq" };
      if (method === "POST" && path === "/runs/q1/stop")
        return { ...run("q1", "stopped"), live: false };
      if (method === "GET" && path.startsWith("/runs?ids=")) return [QUEUED, run("old", "done")];
      return undefined;
    };
  });

  it("waits in the queue: ▶ and step start nothing more, ■ stops it", async () => {
    await useTrain.getState().play();
    expect(useTrain.getState().run).toMatchObject({
      id: "q1",
      status: "queued",
      live: false,
      queue: { position: 3, ahead: 2, eta_seconds: 20 },
    });
    await useTrain.getState().play();
    await useTrain.getState().stepOnce();
    expect(posts()).toEqual(["POST /runs"]); // no second run: it starts by itself
    await useTrain.getState().stop();
    expect(posts()).toEqual(["POST /runs", "POST /runs/q1/stop"]);
    expect(useTrain.getState().run).toMatchObject({ status: "stopped", queue: null });
  });

  it("a live setting changed while it waits reaches it once it starts", async () => {
    await useTrain.getState().play();
    useTrain.getState().setSetting("lr", 0.5);
    expect(posts()).toEqual(["POST /runs"]); // a waiting run takes no PATCH
    useTrain.getState().applyBatch({
      hello: null,
      points: [],
      seq: 0,
      snapshot: null,
      boundary: null,
      statuses: [{ type: "status", status: "running", live: true }],
      errors: [],
    });
    await vi.waitFor(() => expect(posts()).toEqual(["POST /runs", "PATCH /runs/q1"]));
    expect(calls.at(-1)).toMatchObject({ body: { lr: 0.5 }, token: "tq" });
  });

  it("reset takes it out of the queue; stopping my runs counts the waiting ones", async () => {
    await useTrain.getState().play();
    await useTrain.getState().reset();
    expect(posts()).toContain("POST /runs/q1/stop");
    localStorage.setItem("blockprop:runtoken:q1", "tq");
    localStorage.setItem("blockprop:runtoken:old", "to");
    expect(await useTrain.getState().stopMyRuns()).toBe(1);
  });

  it("every request says which browser it comes from, always the same id", async () => {
    await useTrain.getState().play();
    await useTrain.getState().stop();
    const ids = new Set(calls.map((c) => c.client));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(localStorage.getItem("blockprop:clientId")).toBe([...ids][0]);
  });
});

describe("wiring to the document", () => {
  it("leaving a graph detaches its run; coming back to the same graph shows it again", async () => {
    const { startTrainWiring } = await import("./store");
    const stop = startTrainWiring();
    await useTrain.getState().play();
    expect(useTrain.getState().run?.id).toBe("r1");
    const other = { ...LINREG, nodes: LINREG.nodes.filter((n) => n.id !== "c") };
    resetEditorKeepOps(other);
    expect(useTrain.getState().run).toBeNull();
    resetEditorKeepOps({
      ...LINREG,
      nodes: LINREG.nodes.map((n) => ({ ...n, ui: { x: 9, y: 9 } })),
    });
    await vi.waitFor(() => expect(useTrain.getState().run?.id).toBe("r1"));
    stop();
  });

  it("an error about the graph goes once the graph changes; a busy server's word stays", async () => {
    const { startTrainWiring } = await import("./store");
    const stop = startTrainWiring();
    useEditor.getState().newGraph();
    await useTrain.getState().play(); // nothing drawn
    expect(useTrain.getState().message?.text).toMatch(/Draw a graph first/);
    useEditor.getState().loadDoc(LINREG); // an example opened, say
    expect(useTrain.getState().message).toBeNull();

    full = true;
    await useTrain.getState().play();
    expect(useTrain.getState().message).toMatchObject({ busyServer: true });
    useEditor.getState().setParam("lin", "out_features", 2);
    expect(useTrain.getState().message).toMatchObject({ busyServer: true });
    stop();
  });
});

function resetEditorKeepOps(doc: typeof LINREG) {
  useEditor.getState().loadDoc(doc);
}

/** The stream says the run diverged at step 12 in node "c"; `live`: the worker holds it (a new
 * server), false: it ended (stopped while held), undefined: an older server. */
function divergeStream(live: boolean | undefined) {
  useTrain.getState().applyBatch({
    hello: null,
    points: [],
    seq: 0,
    snapshot: null,
    boundary: null,
    statuses: [
      {
        type: "status",
        status: "diverged",
        step: 12,
        diverged_node: "c",
        reason: "non-finite loss at step 13; first non-finite node: 'c'",
        ...(live === undefined ? {} : { live }),
      },
    ],
    errors: [],
  });
}

/** The fake server while run r1 is held diverged: PATCH keeps it held (with the new lr),
 * resume runs it. */
function holdR1() {
  reply = (method, path, body) => {
    if (method === "PATCH" && path === "/runs/r1")
      return { ...run("r1", "diverged", { lr: 1, ...body }), live: true, diverged_node: "c" };
    if (method === "POST" && path === "/runs/r1/resume")
      return { ...run("r1", "running"), live: true };
    if (method === "POST" && path === "/runs/r1/stop")
      return { ...run("r1", "diverged"), live: false };
    if (method === "POST" && path === "/runs/r1/step")
      return { ...run("r1", "paused"), live: true };
    return undefined;
  };
}

describe("a diverged run", () => {
  beforeEach(async () => {
    useTrain.setState({ settings: { ...useTrain.getState().settings, lr: 1 } });
    await useTrain.getState().play();
    calls = [];
  });

  it("held by the server stays controllable: live settings, ▶ resumes it, step, stop", async () => {
    holdR1();
    divergeStream(true);
    const r = useTrain.getState().run;
    expect(r).toMatchObject({ status: "diverged", live: true, divergedNode: "c" });
    useTrain.getState().setSetting("lr", 0.05);
    await vi.waitFor(() => expect(useTrain.getState().run?.config.lr).toBe(0.05));
    expect(posts()).toEqual(["PATCH /runs/r1"]);
    expect(calls[0].body).toEqual({ lr: 0.05 });
    await useTrain.getState().play();
    expect(posts()).toEqual(["PATCH /runs/r1", "POST /runs/r1/resume"]);
    expect(useTrain.getState().run).toMatchObject({ id: "r1", status: "running", live: true });
    expect(useTrain.getState().run?.divergedNode).toBeNull();

    divergeStream(true); // diverges again: held again
    await useTrain.getState().stepOnce();
    expect(posts().at(-1)).toBe("POST /runs/r1/step");
    divergeStream(true);
    await useTrain.getState().stop();
    expect(posts().at(-1)).toBe("POST /runs/r1/stop");
    expect(useTrain.getState().run).toMatchObject({ status: "diverged", live: false });
    expect(posts().filter((p) => p === "POST /runs")).toEqual([]);
  });

  it("held: resume with lr ÷ 10 PATCHes the lr, then resumes the same run", async () => {
    holdR1();
    divergeStream(true);
    await useTrain.getState().lowerLr();
    expect(posts()).toEqual(["PATCH /runs/r1", "POST /runs/r1/resume"]);
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ lr: 0.1 });
    expect(calls.every((c) => c.method === "GET" || c.token === "t1")).toBe(true);
    expect(useTrain.getState().settings.lr).toBe(0.1);
    expect(useTrain.getState().run).toMatchObject({ id: "r1", status: "running" });
    expect(window.location.search).toBe("?run=r1");
    // once more from the rate the run now has
    divergeStream(true);
    await useTrain.getState().lowerLr();
    expect(calls.filter((c) => c.method === "PATCH").at(-1)?.body).toEqual({ lr: 0.01 });
  });

  it("resumed and diverged again before the answer came: the stream's word stands", async () => {
    holdR1();
    const server = reply;
    reply = async (method, path, body) => {
      if (path !== "/runs/r1/resume") return server?.(method, path, body);
      await Promise.resolve(); // the request is on its way: the stream speaks first
      divergeStream(true);
      return { ...run("r1", "running"), live: true };
    };
    divergeStream(true);
    await useTrain.getState().lowerLr();
    expect(posts()).toEqual(["PATCH /runs/r1", "POST /runs/r1/resume"]);
    expect(useTrain.getState().run).toMatchObject({ status: "diverged", live: true });
    expect(useTrain.getState().run?.config.lr).toBe(0.1);
  });

  it("ended (stopped while held, or an older server): lr ÷ 10 starts a new run", async () => {
    divergeStream(false);
    expect(useTrain.getState().run).toMatchObject({ status: "diverged", live: false });
    await useTrain.getState().lowerLr();
    expect(posts()).toEqual(["POST /runs"]);
    expect(calls.find((c) => c.path === "/runs")?.body).toMatchObject({ train: { lr: 0.1 } });
    expect(useTrain.getState().run?.id).toBe("r2");
  });

  it("from a server that sends no live flag, diverged has ended", async () => {
    divergeStream(undefined);
    expect(useTrain.getState().run?.live).toBe(false);
    useTrain.getState().setSetting("lr", 0.05); // not PATCHed: nothing holds the run
    await useTrain.getState().play();
    expect(posts()).toEqual(["POST /runs"]);
  });

  it("a reload while held shows the held run again", async () => {
    reply = (method, path) =>
      method === "GET" && path === "/runs/r1"
        ? { ...run("r1", "diverged"), step: 12, live: true, diverged_node: "c" }
        : undefined;
    useTrain.getState().detach();
    await useTrain.getState().attach("r1");
    expect(useTrain.getState().run).toMatchObject({
      status: "diverged",
      live: true,
      divergedNode: "c",
      canControl: true,
    });
  });
});
