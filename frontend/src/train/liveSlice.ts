// The run watched and its live views: attaching opens its stream (stream.ts), whose batches
// (once per animation frame) are applied here with one `set` — the loss curves, the latest
// snapshot indexed for the canvas, the boundary, the run's status.
import { describeError, runTokens, trainApi } from "./api";
import { setUrlRun } from "./persist";
import { type RunView, runView } from "./runs";
import { Series } from "./series";
import { emptyLive, indexSnapshot, type Levels } from "./snapshot";
import type { TrainSlice, TrainState } from "./store";
import { type Batch, type Connection, RunStream } from "./stream";
import {
  type BoundaryFrame,
  isLive,
  type NodeSummary,
  type RunRead,
  type TensorSummary,
  takesPlace,
} from "./types";

export interface LiveSlice {
  run: RunView | null;
  connection: Connection | "idle";
  connectionDetail: string | null;

  /** the loss curves; mutated in place, `metricsVersion` bumps when they change */
  series: Series;
  metricsVersion: number;
  stepsPerSec: number | null;
  lr: number | null;

  snapStep: number | null;
  nodes: Record<string, NodeSummary>;
  params: Record<string, Record<string, TensorSummary>>;
  paramGrads: Record<string, Record<string, TensorSummary>>;
  levels: Levels;
  boundary: BoundaryFrame | null;
  rate: number;

  attach: (
    run: RunRead | string,
    opts?: { token?: string | null; sig?: string | null },
  ) => Promise<void>;
  detach: () => void;
  applyBatch: (b: Batch) => void;
  setRate: (rate: number) => void;
}

let stream: RunStream | null = null;
/** Status frames (and hellos) the stream delivered so far: a control request's answer may
 * be older than what the stream said meanwhile (a resumed run that diverged at once). */
let streamStatuses = 0;
let historyTimer: ReturnType<typeof setTimeout> | null = null;

/** How many status frames (and hellos) the stream has delivered so far (see `merge`). */
export const statusesSeen = () => streamStatuses;

export const createLiveSlice: TrainSlice<LiveSlice> = (set, get) => ({
  run: null,
  connection: "idle",
  connectionDetail: null,
  series: new Series(),
  metricsVersion: 0,
  ...emptyLive(),
  rate: 10,

  attach: async (runOrId, opts = {}) => {
    let r: RunRead;
    if (typeof runOrId === "string") {
      try {
        r = await trainApi.run(runOrId);
      } catch (err) {
        set({
          message: {
            kind: "error",
            text: `Could not open run ${runOrId}: ${describeError(err)}`,
          },
        });
        setUrlRun(null);
        return;
      }
    } else r = runOrId;
    get().detach();
    const tok = opts.token ?? runTokens.get(r.id);
    const series = new Series();
    set({
      run: runView(r, !!tok, opts.sig ?? null),
      series,
      metricsVersion: get().metricsVersion + 1,
      ...emptyLive(),
      message: null,
    });
    setUrlRun(r.id);
    stream = new RunStream({
      runId: r.id,
      token: tok,
      rate: get().rate,
      since: 0,
      onBatch: (b) => get().applyBatch(b),
      onConnection: (connection, detail) => set({ connection, connectionDetail: detail ?? null }),
      exists: () =>
        trainApi.run(r.id).then(
          () => true,
          (err) => !(err && (err as { status?: number }).status === 404),
        ),
    });
  },

  detach: () => {
    stream?.close();
    stream = null;
    if (get().run) setUrlRun(null);
    set({
      run: null,
      connection: "idle",
      connectionDetail: null,
      series: new Series(),
      metricsVersion: get().metricsVersion + 1,
      ...emptyLive(),
    });
  },

  applyBatch: (b) => {
    const s = get();
    let run = s.run;
    if (!run) return;
    const patch: Partial<TrainState> = {};
    const wasQueued = run.status === "queued";
    // the run held or waited for a place before this batch (its end refreshes the history)
    let hadPlace = takesPlace(run);
    if (b.hello || b.statuses.length) streamStatuses++;
    if (b.hello) {
      const h = b.hello;
      run = {
        ...runView(h.run, h.can_control, run.sig),
        status: h.status,
        live: isLive(h.status, h.run.live),
        step: Math.max(run.step, h.step),
      };
      if (h.status !== "queued") run.queue = null;
      hadPlace = hadPlace || takesPlace(run);
    }
    if (b.points.length) {
      s.series.push(b.points);
      const last = b.points[b.points.length - 1];
      patch.metricsVersion = s.metricsVersion + 1;
      patch.lr = last.lr;
      run = {
        ...run,
        step: Math.max(run.step, last.step),
        epoch: Math.max(run.epoch, last.epoch),
      };
    }
    for (const st of b.statuses) {
      run = {
        ...run,
        status: st.status,
        live: isLive(st.status, st.live),
        reason: st.reason ?? null,
        // queued: where it stands now; any other status: it no longer waits
        queue: st.status === "queued" ? (st.queue ?? run.queue) : null,
        step: Math.max(run.step, st.step ?? 0),
        epoch: Math.max(run.epoch, st.epoch ?? 0),
        // a held run that resumes has no diverged node any more
        divergedNode: st.status === "diverged" ? (st.diverged_node ?? run.divergedNode) : null,
        error: (st.error as RunView["error"]) ?? run.error,
      };
    }
    if (b.snapshot) {
      Object.assign(patch, indexSnapshot(b.snapshot));
      patch.snapStep = b.snapshot.step;
    }
    if (b.boundary) patch.boundary = b.boundary;
    if (b.errors.length) {
      const e = b.errors[b.errors.length - 1];
      patch.message = { kind: "error", text: e.error.message };
    }
    patch.stepsPerSec = run.status === "running" ? s.series.speed() : null;
    patch.run = run;
    set(patch);
    // it has a place now: what was changed while it waited reaches it
    if (wasQueued && run.live && run.canControl) void get().catchUpSettings();
    if (hadPlace && !takesPlace(run)) {
      // Finished: the history shows it with its final status.
      if (historyTimer) clearTimeout(historyTimer);
      historyTimer = setTimeout(() => void get().refreshHistory(), 300);
    }
  },

  setRate: (rate) => {
    set({ rate });
    stream?.setRate(rate);
  },
});
