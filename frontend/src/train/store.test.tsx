import { act, render } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import type { GraphDoc } from "../api/types";
import { NodeLive } from "./NodeLive";
import { RunControls } from "./RunControls";
import { signature, watchableSpeed } from "./runs";
import { configOf, settingsFrom } from "./settings";
import { indexSnapshot } from "./snapshot";
import { useTrain } from "./store";
import type { Batch } from "./stream";
import { DockMessage } from "./TrainDock";
import type { SnapshotFrame, StatusFrame, TensorSummary } from "./types";

const summary = (norm: number, shape = [4], batch = 4): TensorSummary => ({
  shape,
  batch,
  nonfinite: 0,
  mean: 0,
  std: 1,
  min: -1,
  max: 1,
  norm,
  hist: { edges: [-1, 0, 1], counts: [3, 5] },
});

const snap = (step: number, norms: Record<string, number>): SnapshotFrame => ({
  type: "snapshot",
  step,
  epoch: 1,
  nodes: Object.fromEntries(
    Object.entries(norms).map(([id, n]) => [id, { value: summary(n), grad: summary(n / 10) }]),
  ),
  params: { l1: { W: summary(2, [4, 2]), b: summary(1, [4]) } },
});

const batch = (patch: Partial<Batch>): Batch => ({
  hello: null,
  points: [],
  seq: 0,
  snapshot: null,
  boundary: null,
  statuses: [],
  errors: [],
  ...patch,
});

const RUN = {
  id: "r1",
  graphId: null,
  name: "",
  status: "running" as const,
  live: true,
  queue: null,
  reason: null,
  step: 0,
  epoch: 0,
  divergedNode: null,
  error: null,
  config: { lr: 0.1 },
  dataset: { name: "xor", seed: 0, test_fraction: 0.2, normalize: true },
  canControl: true,
  createdAt: 0,
  sig: null,
};

beforeEach(() => {
  useTrain.setState({ run: { ...RUN }, nodes: {}, snapStep: null, liveMode: "value" });
});

describe("indexSnapshot", () => {
  it("indexes summaries by node and levels edges on a log scale", () => {
    const ix = indexSnapshot({
      ...snap(3, { x: 1, "split:a": 100, "split:b": 1 }),
    });
    expect(Object.keys(ix.nodes).sort()).toEqual(["split", "x"]);
    expect(ix.levels.grad["split:a"]).toBe(1);
    expect(ix.levels.grad.x).toBeCloseTo(1 - 2 / 3); // two decades below the largest
    expect(ix.levels.weight.l1).toBeGreaterThan(0);
  });
});

describe("applyBatch", () => {
  it("applies a frame's metrics, status and snapshot in one update", () => {
    let updates = 0;
    const unsub = useTrain.subscribe(() => updates++);
    useTrain.getState().applyBatch(
      batch({
        points: [{ step: 5, epoch: 1, loss: 0.5, lr: 0.02 }],
        snapshot: snap(5, { x: 1 }),
        statuses: [{ type: "status", status: "paused", step: 5 }],
      }),
    );
    unsub();
    expect(updates).toBe(1);
    const s = useTrain.getState();
    expect(s.run?.status).toBe("paused");
    expect(s.run?.step).toBe(5);
    expect(s.lr).toBe(0.02);
    expect(s.snapStep).toBe(5);
  });

  it("marks the first non-finite node on divergence", () => {
    useTrain
      .getState()
      .applyBatch(
        batch({ statuses: [{ type: "status", status: "diverged", diverged_node: "cost" }] }),
      );
    expect(useTrain.getState().run?.divergedNode).toBe("cost");
  });
});

describe("NodeLive", () => {
  it("re-renders a node's view only when its own summary changes", () => {
    const { getByTestId, queryByTestId } = render(
      <>
        <NodeLive id="a" />
        <NodeLive id="b" />
      </>,
    );
    expect(queryByTestId("node-live-a")).toBeNull();
    act(() => useTrain.getState().applyBatch(batch({ snapshot: snap(1, { a: 1, b: 2 }) })));
    expect(getByTestId("node-live-a").dataset.valueNorm).toBe("1");
    expect(getByTestId("node-live-b").dataset.valueNorm).toBe("2");
    act(() => useTrain.getState().setLiveMode("grad"));
    expect(getByTestId("node-live-a").dataset.mode).toBe("grad");
    expect(getByTestId("node-live-grad-a")).toBeTruthy();
    expect(getByTestId("node-live-a").dataset.gradNorm).toBe("0.1");
  });

  it("rings the node where the run diverged, with a hint", () => {
    const { getByTestId } = render(<NodeLive id="cost" />);
    act(() =>
      useTrain
        .getState()
        .applyBatch(
          batch({ statuses: [{ type: "status", status: "diverged", diverged_node: "cost" }] }),
        ),
    );
    expect(getByTestId("diverged-cost")).toBeTruthy();
    expect(getByTestId("diverged-hint").textContent).toMatch(/learning rate/);
  });
});

describe("a diverged run in the dock", () => {
  const diverge = (live?: boolean) =>
    useTrain.getState().applyBatch(
      batch({
        statuses: [
          {
            type: "status",
            status: "diverged",
            step: 12,
            diverged_node: "cost",
            reason: "non-finite loss at step 13; first non-finite node: 'cost'",
            ...(live === undefined ? {} : { live }),
          },
        ],
      }),
    );
  const view = () =>
    render(
      <>
        <RunControls />
        <DockMessage />
        <NodeLive id="cost" />
      </>,
    );
  const enabled = (el: HTMLElement) => !(el as HTMLButtonElement).disabled;
  beforeEach(() => {
    // the run as the panel is set: ▶ would resume it
    const { settings, dataset } = useTrain.getState();
    useTrain.setState({ run: { ...RUN, config: configOf(settings), dataset } });
  });

  it("held: paused at its step, ringed with the reason, every control enabled", () => {
    const { getByTestId, queryByTestId } = view();
    act(() => diverge(true));
    const status = getByTestId("run-status");
    expect(status.dataset.status).toBe("diverged");
    expect(status.dataset.live).toBe("true");
    expect(getByTestId("run-badge").textContent).toBe("diverged — paused at step 12");
    expect(getByTestId("btn-train-play").textContent).toMatch(/Resume/);
    for (const id of ["btn-train-play", "btn-train-step", "btn-train-stop"])
      expect(enabled(getByTestId(id))).toBe(true);
    expect(getByTestId("diverged-banner").dataset.held).toBe("true");
    expect(getByTestId("btn-resume-lower-lr").textContent).toBe("Resume with lr ÷ 10");
    expect(queryByTestId("btn-lower-lr")).toBeNull();
    expect(getByTestId("diverged-cost")).toBeTruthy();
    expect(getByTestId("diverged-hint").textContent).toMatch(/learning rate.*paused/);
    expect(getByTestId("diverged-reason").textContent).toMatch(/non-finite loss at step 13/);
  });

  it("resuming clears the highlight; diverging again brings it back", () => {
    const { getByTestId, queryByTestId } = view();
    act(() => diverge(true));
    act(() =>
      useTrain
        .getState()
        .applyBatch(batch({ statuses: [{ type: "status", status: "running", live: true }] })),
    );
    expect(queryByTestId("diverged-cost")).toBeNull();
    expect(queryByTestId("diverged-banner")).toBeNull();
    expect(getByTestId("run-status").dataset.divergedNode).toBeUndefined();
    act(() => diverge(true));
    expect(getByTestId("diverged-cost")).toBeTruthy();
  });

  it("ended (stopped, or an older server): highlighted, ▶ trains anew, no stop", () => {
    const { getByTestId, queryByTestId } = view();
    act(() => diverge(undefined));
    expect(getByTestId("run-status").dataset.live).toBe("false");
    expect(getByTestId("run-badge").textContent).toBe("diverged");
    expect(getByTestId("btn-train-play").textContent).toMatch(/Train/);
    expect(enabled(getByTestId("btn-train-stop"))).toBe(false);
    expect(getByTestId("diverged-banner").dataset.held).toBe("false");
    expect(getByTestId("btn-lower-lr")).toBeTruthy();
    expect(queryByTestId("btn-resume-lower-lr")).toBeNull();
    expect(getByTestId("diverged-cost")).toBeTruthy();
    expect(getByTestId("diverged-hint").textContent).not.toMatch(/paused/);
  });
});

describe("a queued run in the dock", () => {
  const say = (status: Partial<StatusFrame> & { status: StatusFrame["status"] }) =>
    act(() =>
      useTrain
        .getState()
        .applyBatch(batch({ statuses: [{ type: "status", live: false, ...status }] })),
    );
  const enabled = (el: HTMLElement) => !(el as HTMLButtonElement).disabled;

  it("says where it waits, live from the stream; only ■ works; it turns into the running view", () => {
    useTrain.setState({ run: { ...RUN, status: "queued", live: false } });
    const { getByTestId, queryByTestId } = render(<RunControls />);
    say({ status: "queued", queue: { position: 4, ahead: 3, eta_seconds: 20 } });
    const status = getByTestId("run-status");
    expect(status.dataset.status).toBe("queued");
    expect(status.dataset.queueAhead).toBe("3");
    expect(getByTestId("run-badge").textContent).toBe("waiting — 3 ahead of you (about 20 s)");
    expect(getByTestId("run-announce").textContent).toBe(
      "Training run: waiting — 3 ahead of you (about 20 s)",
    );
    expect(getByTestId("run-announce").getAttribute("aria-live")).toBe("polite");
    expect(queryByTestId("run-loss")).toBeNull(); // nothing to show yet
    expect(queryByTestId("run-reason")).toBeNull(); // the badge says it
    expect(enabled(getByTestId("btn-train-stop"))).toBe(true);
    expect(enabled(getByTestId("btn-train-pause"))).toBe(false);
    expect(enabled(getByTestId("btn-train-step"))).toBe(false);
    expect(queryByTestId("btn-train-play")).toBeNull();

    say({ status: "queued", queue: { position: 1, ahead: 0, eta_seconds: null } }); // moved up
    expect(getByTestId("run-badge").textContent).toBe("waiting — you are next");
    expect(getByTestId("run-announce").textContent).toBe("Training run: waiting — you are next");

    say({ status: "running", live: true }); // a place freed: it starts by itself
    expect(status.dataset.status).toBe("running");
    expect(status.dataset.queueAhead).toBeUndefined();
    expect(useTrain.getState().run?.queue).toBeNull();
    expect(getByTestId("run-badge").textContent).toBe("running");
    expect(getByTestId("run-announce").textContent).toBe("Training run: running");
    expect(getByTestId("run-loss")).toBeTruthy();
    expect(enabled(getByTestId("btn-train-pause"))).toBe(true);
    expect(enabled(getByTestId("btn-train-step"))).toBe(true);
  });
});

describe("settings and signatures", () => {
  it("reads an example's config and writes every setting back", () => {
    const s = settingsFrom({
      epochs: 150,
      batch_size: null,
      optimizer: "adam",
      lr: 0.03,
      output: "p",
    });
    expect(s.batch_size).toBeNull();
    expect(s.optimizer).toBe("adam");
    const c = configOf(s);
    expect(c).toMatchObject({ epochs: 150, batch_size: null, lr: 0.03, output: "p", speed: 0 });
  });

  it("ignores layout and node order in a graph's signature", () => {
    const doc: GraphDoc = {
      version: 1,
      name: "a",
      nodes: [
        { id: "x", op: "input", params: { shape: [2] }, ui: { x: 0, y: 0 } },
        { id: "l", op: "linear", params: { out_features: 2 }, inputs: { x: "x" } },
      ],
    };
    const moved: GraphDoc = {
      ...doc,
      name: "b",
      nodes: [doc.nodes[1], { ...doc.nodes[0], ui: { x: 50, y: 9 } }],
    };
    expect(signature(moved)).toBe(signature(doc));
    const changed = {
      ...doc,
      nodes: [doc.nodes[0], { ...doc.nodes[1], params: { out_features: 3 } }],
    };
    expect(signature(changed)).not.toBe(signature(doc));
  });
});

describe("watchableSpeed", () => {
  it("paces an example to about eight seconds", () => {
    const spiral = settingsFrom({ epochs: 150, batch_size: 32 });
    const d = { name: "spiral", n: 400, seed: 0, test_fraction: 0.2, normalize: true };
    expect(watchableSpeed(spiral, d, [])).toBe(190); // 1500 steps
    const full = settingsFrom({ epochs: 150, batch_size: null });
    expect(watchableSpeed(full, d, [])).toBe(19); // 150 steps
    expect(watchableSpeed(settingsFrom({ epochs: 0 }), d, [])).toBe(0);
  });
});
