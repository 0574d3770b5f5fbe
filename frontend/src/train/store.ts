// The training store: what the panel is set to (dataset, trainer settings), the run being
// watched, and its live views. Its own zustand store, apart from the editor's, so a snapshot
// never touches the document, its undo history or its draft. Stream batches arrive once per
// animation frame (stream.ts) and are applied with one `set`; node views select their own
// node's summary, so a snapshot re-renders the live views and nothing else.
import { create } from "zustand";
import type { GraphDoc } from "../api/types";
import { useEditor } from "../store/editor";
import { describeError, runTokens, trainApi } from "./api";
import { Series, type XMode } from "./series";
import { configOf, DEFAULT_SETTINGS, LIVE, settingsFrom, type TrainSettings } from "./settings";
import { type Batch, type Connection, RunStream } from "./stream";
import {
  type BoundaryFrame,
  type DatasetInfo,
  type DatasetSpec,
  isHeld,
  isLive,
  type NodeSummary,
  type RunRead,
  type RunStatus,
  type SnapshotFrame,
  type TensorSummary,
} from "./types";

export type LiveMode = "value" | "grad" | "both";
export type EdgeMode = "off" | "weight" | "grad";
export type DockTab = "data" | "settings" | "history";

export interface RunView {
  id: string;
  graphId: string | null;
  name: string;
  status: RunStatus;
  /** a worker holds the run: it can be controlled (see `isLive`; a held `diverged` run too) */
  live: boolean;
  reason: string | null;
  step: number;
  epoch: number;
  divergedNode: string | null;
  error: { code: string; message: string } | null;
  config: Record<string, unknown>;
  dataset: DatasetSpec;
  canControl: boolean;
  createdAt: number;
  /** the graph as trained (see `signature`), when this browser started the run */
  sig: string | null;
}

export interface Levels {
  /** 0..1 per value key ("node" or "node:port"): magnitude of dL/d(value), log-scaled */
  grad: Record<string, number>;
  /** 0..1 per node id: magnitude of its trainable parameters, log-scaled */
  weight: Record<string, number>;
}

export interface Compared {
  id: string;
  label: string;
  series: Series;
}

export interface TrainState {
  datasets: DatasetInfo[];
  uploads: { id: string; name: string; task: string; features: number }[];
  dataset: DatasetSpec;
  settings: TrainSettings;

  run: RunView | null;
  connection: Connection | "idle";
  connectionDetail: string | null;
  busy: string | null;
  /** the dock's message line; `busyServer`: the server runs its maximum of runs */
  message: { kind: "error" | "info"; text: string; busyServer?: boolean } | null;

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

  liveMode: LiveMode;
  edgeMode: EdgeMode;
  logScale: boolean;
  xMode: XMode;
  rate: number;
  dockOpen: boolean;
  tab: DockTab;

  history: RunRead[];
  historyStatus: "idle" | "loading" | "error";
  compared: Compared[];

  loadDatasets: () => Promise<void>;
  setDataset: (patch: Partial<DatasetSpec>) => void;
  chooseDataset: (name: string) => void;
  addUpload: (u: { id: string; name: string; task: string; features: number }) => void;
  setSetting: (name: string, value: unknown) => void;
  applyExample: (
    dataset?: Record<string, unknown> | null,
    train?: Record<string, unknown> | null,
  ) => void;
  play: () => Promise<void>;
  pause: () => Promise<void>;
  stepOnce: () => Promise<void>;
  stop: () => Promise<void>;
  reset: () => Promise<void>;
  /** After a divergence, the learning rate ÷ 10: a held run is PATCHed and resumed (the same
   * run); a run that ended starts anew at that rate. */
  lowerLr: () => Promise<void>;
  attach: (
    run: RunRead | string,
    opts?: { token?: string | null; sig?: string | null },
  ) => Promise<void>;
  detach: () => void;
  applyBatch: (b: Batch) => void;
  setLiveMode: (m: LiveMode) => void;
  setEdgeMode: (m: EdgeMode) => void;
  toggleLog: () => void;
  setXMode: (m: XMode) => void;
  setRate: (rate: number) => void;
  setDock: (patch: { open?: boolean; tab?: DockTab }) => void;
  refreshHistory: () => Promise<void>;
  toggleCompare: (id: string) => Promise<void>;
  say: (kind: "error" | "info", text: string) => void;
  /** Stops every live run this browser started (it holds their tokens); returns how many. */
  stopMyRuns: () => Promise<number>;
}

// ------------------------------------------------------------------------------- helpers

export const DEFAULT_DATASET: DatasetSpec = {
  name: "spiral",
  seed: 0,
  test_fraction: 0.2,
  normalize: true,
};

/** What a run trains: the graph without layout and trained state. Two documents with the
 * same signature train the same way. */
export function signature(doc: GraphDoc): string {
  return JSON.stringify(
    [...doc.nodes]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((n) => [n.id, n.op, n.params ?? {}, n.inputs ?? {}]),
  );
}

const stable = (v: unknown) => JSON.stringify(v, Object.keys((v as object) ?? {}).sort());

const graphKey = () => useEditor.getState().graphId ?? "draft";
const LAST_RUN = "blockprop:lastrun:";
const RUN_LIST = "blockprop:runs:";
const SETTINGS_KEY = "blockprop:train:";
const UPLOADS_KEY = "blockprop:uploads";

function readJson<T>(key: string, fallback: T): T {
  try {
    const v = localStorage.getItem(key);
    return v ? (JSON.parse(v) as T) : fallback;
  } catch {
    return fallback;
  }
}
const writeJson = (key: string, v: unknown) => {
  try {
    localStorage.setItem(key, JSON.stringify(v));
  } catch {
    // storage full or off: nothing to keep
  }
};

export const localRuns = {
  ids: (key = graphKey()) => readJson<string[]>(RUN_LIST + key, []),
  add(id: string, key = graphKey()) {
    writeJson(RUN_LIST + key, [id, ...localRuns.ids(key).filter((x) => x !== id)].slice(0, 40));
  },
  last: (key = graphKey()) =>
    readJson<{ id: string; sig: string | null } | null>(LAST_RUN + key, null),
  remember(id: string | null, sig: string | null, key = graphKey()) {
    if (id) writeJson(LAST_RUN + key, { id, sig });
    else localStorage.removeItem(LAST_RUN + key);
  },
};

export function urlRun(): string | null {
  return new URL(window.location.href).searchParams.get("run");
}

function setUrlRun(id: string | null) {
  const url = new URL(window.location.href);
  if ((url.searchParams.get("run") ?? null) === id) return;
  if (id) url.searchParams.set("run", id);
  else url.searchParams.delete("run");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
}

function runView(r: RunRead, canControl: boolean, sig: string | null): RunView {
  return {
    id: r.id,
    graphId: r.graph_id,
    name: r.name,
    status: r.status,
    live: isLive(r.status, r.live),
    reason: r.reason ?? null,
    step: r.step,
    epoch: r.epoch,
    divergedNode: r.diverged_node ?? null,
    error: (r.error as RunView["error"]) ?? null,
    config: r.config ?? {},
    dataset: r.dataset,
    canControl,
    createdAt: r.created_at,
    sig,
  };
}

function count(s: TensorSummary): number {
  const per = s.shape.reduce((a, b) => a * b, 1);
  return Math.max(1, per * (s.batch ?? 1));
}
const rms = (s: TensorSummary | null | undefined) =>
  s && typeof s.norm === "number" ? s.norm / Math.sqrt(count(s)) : null;

/** Magnitudes mapped to 0..1 on a log scale spanning three decades below the largest. */
function logLevels(raw: Record<string, number>): Record<string, number> {
  const max = Math.max(0, ...Object.values(raw));
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(raw)) {
    out[k] = max > 0 && v > 0 ? Math.min(1, Math.max(0.04, 1 + Math.log10(v / max) / 3)) : 0;
  }
  return out;
}

/** A snapshot indexed for the canvas: summaries by node id (a node's first output when it
 * has several) and edge levels. */
export function indexSnapshot(snap: SnapshotFrame) {
  const nodes: Record<string, NodeSummary> = {};
  const grad: Record<string, number> = {};
  for (const [key, s] of Object.entries(snap.nodes)) {
    const id = key.split(":")[0];
    if (!(id in nodes) || key === id) nodes[id] = s;
    const g = rms(s.grad);
    if (g !== null) {
      grad[key] = g;
      if (!(id in grad) || key === id) grad[id] = g;
    }
  }
  const weight: Record<string, number> = {};
  for (const [id, ps] of Object.entries(snap.params ?? {})) {
    let sq = 0;
    let n = 0;
    for (const s of Object.values(ps)) {
      if (typeof s.norm !== "number") continue;
      sq += s.norm * s.norm;
      n += count(s);
    }
    if (n) weight[id] = Math.sqrt(sq / n);
  }
  return {
    nodes,
    params: snap.params ?? {},
    paramGrads: snap.param_grads ?? {},
    levels: { grad: logLevels(grad), weight: logLevels(weight) },
  };
}

const emptyLive = () => ({
  snapStep: null,
  nodes: {},
  params: {},
  paramGrads: {},
  levels: { grad: {}, weight: {} },
  boundary: null,
  stepsPerSec: null,
  lr: null,
});

let stream: RunStream | null = null;
/** Status frames (and hellos) the stream delivered so far: a control request's answer may
 * be older than what the stream said meanwhile (a resumed run that diverged at once). */
let streamStatuses = 0;
let historyTimer: ReturnType<typeof setTimeout> | null = null;

// ------------------------------------------------------------------------------- the store

export const useTrain = create<TrainState>()((set, get) => {
  const persist = () => {
    const { dataset, settings } = get();
    writeJson(SETTINGS_KEY + graphKey(), { dataset, settings });
  };

  const token = (run: RunView | null) => (run ? runTokens.get(run.id) : null);

  /** Runs a control request, reporting its error in the dock. */
  const guarded = async (name: string, fn: () => Promise<void>) => {
    if (get().busy) return;
    set({ busy: name, message: null });
    try {
      await fn();
    } catch (err) {
      const busyServer = (err as { status?: number }).status === 429;
      set({ message: { kind: "error", text: describeError(err), busyServer } });
    } finally {
      set({ busy: null });
    }
  };

  const control = async (action: "pause" | "resume" | "stop" | "step") => {
    const run = get().run;
    const t = token(run);
    if (!run || !t)
      throw new Error("This run was started elsewhere: it can be watched, not controlled.");
    await merge(trainApi.control(run.id, action, t));
  };

  /** Applies a control request's answer (see `mergeRun`); call it with the request itself,
   * so it notes what the stream had said when the request was sent. */
  const merge = async (request: Promise<RunRead>) => {
    const sent = streamStatuses;
    mergeRun(await request, sent);
  };

  const mergeRun = (r: RunRead, sent: number) => {
    const run = get().run;
    if (!run || run.id !== r.id) return;
    // The stream may be ahead of this answer: never move progress backwards, and keep the
    // status it reported while the request was under way (it is the later word).
    const newer = streamStatuses !== sent;
    set({
      run: {
        ...run,
        ...(newer
          ? {}
          : {
              status: r.status,
              live: isLive(r.status, r.live),
              reason: r.reason ?? null,
              divergedNode: r.diverged_node ?? null,
            }),
        step: Math.max(run.step, r.step),
        epoch: Math.max(run.epoch, r.epoch),
        config: r.config ?? run.config,
      },
    });
  };

  const stale = (run: RunView) =>
    staleReason(run, get().settings, get().dataset, signature(useEditor.getState().toDoc())) !==
    null;

  const liveChanges = (run: RunView): Record<string, number> => {
    const out: Record<string, number> = {};
    const s = get().settings;
    for (const k of LIVE) {
      const v = s[k];
      if (typeof v !== "number" || run.config[k] === v) continue;
      if (k === "momentum" && s.optimizer !== "momentum") continue;
      out[k] = v;
    }
    return out;
  };

  const startRun = async (paused: boolean) => {
    const old = get().run;
    if (old?.live && token(old)) {
      await trainApi.control(old.id, "stop", token(old) as string).catch(() => undefined);
    }
    const ed = useEditor.getState();
    const doc = ed.toDoc();
    if (!doc.nodes.length) throw new Error("Draw a graph first (or open an example).");
    const { dataset, settings } = get();
    const created = await trainApi.createRun({
      graph: doc,
      ...(ed.graphId ? { graph_id: ed.graphId } : {}),
      dataset,
      train: configOf(settings),
      name: doc.name ?? "",
      paused,
    });
    runTokens.set(created.id, created.edit_token);
    const sig = signature(doc);
    localRuns.add(created.id);
    localRuns.remember(created.id, sig);
    await get().attach(created, { token: created.edit_token, sig });
    void get().refreshHistory();
  };

  return {
    datasets: [],
    uploads: readJson(UPLOADS_KEY, []),
    dataset: { ...DEFAULT_DATASET },
    settings: { ...DEFAULT_SETTINGS },
    run: null,
    connection: "idle",
    connectionDetail: null,
    busy: null,
    message: null,
    series: new Series(),
    metricsVersion: 0,
    ...emptyLive(),
    liveMode: "value",
    edgeMode: "off",
    logScale: false,
    xMode: "step",
    rate: 10,
    dockOpen: true,
    tab: "data",
    history: [],
    historyStatus: "idle",
    compared: [],

    loadDatasets: async () => {
      try {
        set({ datasets: await trainApi.datasets() });
      } catch (err) {
        set({ message: { kind: "error", text: `Could not list datasets: ${describeError(err)}` } });
      }
    },

    setDataset: (patch) => {
      set((s) => ({ dataset: { ...s.dataset, ...patch } }));
      persist();
    },

    chooseDataset: (name) => {
      const { dataset } = get();
      // A new dataset starts from its own defaults; split, seed and normalising carry over.
      set({
        dataset: {
          name,
          seed: dataset.seed,
          test_fraction: dataset.test_fraction,
          normalize: dataset.normalize,
        },
      });
      persist();
    },

    addUpload: (u) => {
      const uploads = [u, ...get().uploads.filter((x) => x.id !== u.id)].slice(0, 20);
      writeJson(UPLOADS_KEY, uploads);
      set({ uploads });
    },

    setSetting: (name, value) => {
      set((s) => ({ settings: { ...s.settings, [name]: value } }));
      persist();
      const run = get().run;
      // Live settings reach a live run at once.
      if (LIVE.has(name) && typeof value === "number" && run?.live && token(run)) {
        if (name === "momentum" && run.config.optimizer !== "momentum") return;
        void merge(trainApi.update(run.id, { [name]: value }, token(run) as string)).catch((err) =>
          set({ message: { kind: "error", text: describeError(err) } }),
        );
      }
    },

    applyExample: (dataset, train) => {
      if (dataset && typeof dataset.name === "string") {
        set({
          dataset: { ...DEFAULT_DATASET, ...(dataset as Partial<DatasetSpec>) } as DatasetSpec,
        });
      }
      if (train) {
        const settings = settingsFrom(train);
        // An example is there to be watched: pace it to last about eight seconds (the speed
        // setting shows it; "as fast as it goes" is one click away).
        if (train.speed === undefined) {
          settings.speed = watchableSpeed(settings, get().dataset, get().datasets);
        }
        set({ settings });
      }
      persist();
    },

    play: () =>
      guarded("play", async () => {
        const run = get().run;
        if (run && (run.status === "running" || run.status === "starting")) return;
        const held = isHeld(run);
        if (
          run &&
          token(run) &&
          !stale(run) &&
          (run.status === "paused" || run.status === "interrupted" || held)
        ) {
          const changes = liveChanges(run);
          if (Object.keys(changes).length && (run.status === "paused" || held)) {
            await merge(trainApi.update(run.id, changes, token(run) as string));
          }
          await control("resume");
          return;
        }
        await startRun(false);
      }),

    pause: () => guarded("pause", () => control("pause")),

    stepOnce: () =>
      guarded("step", async () => {
        const run = get().run;
        if (run?.live && token(run) && !stale(run)) {
          const t = token(run) as string;
          await merge(trainApi.control(run.id, "step", t, 1));
          return;
        }
        // Nothing to step yet: start paused, then take one step.
        await startRun(true);
        const fresh = get().run;
        if (fresh && token(fresh))
          await merge(trainApi.control(fresh.id, "step", token(fresh) as string, 1));
      }),

    stop: () => guarded("stop", () => control("stop")),

    lowerLr: () =>
      guarded("lower-lr", async () => {
        const run = get().run;
        const current = get().settings.lr;
        if (isHeld(run) && run && token(run)) {
          // The same run, from its last finite parameters: the rate it diverged at ÷ 10.
          const at = typeof run.config.lr === "number" ? run.config.lr : current;
          const lr = Number((at / 10).toPrecision(6));
          set((s) => ({ settings: { ...s.settings, lr } }));
          persist();
          await merge(trainApi.update(run.id, { lr }, token(run) as string));
          if (get().run?.live) await control("resume");
          return;
        }
        set((s) => ({ settings: { ...s.settings, lr: Number((current / 10).toPrecision(6)) } }));
        persist();
        await startRun(false);
      }),

    reset: () =>
      guarded("reset", async () => {
        const run = get().run;
        if (run?.live && token(run)) {
          await trainApi.control(run.id, "stop", token(run) as string).catch(() => undefined);
        }
        localRuns.remember(null, null);
        get().detach();
        void get().refreshHistory();
      }),

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
      let wasLive = run.live;
      if (b.hello || b.statuses.length) streamStatuses++;
      if (b.hello) {
        const h = b.hello;
        run = {
          ...runView(h.run, h.can_control, run.sig),
          status: h.status,
          live: isLive(h.status, h.run.live),
          step: Math.max(run.step, h.step),
        };
        wasLive = wasLive || run.live;
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
      if (wasLive && !run.live) {
        // Finished: the history shows it with its final status.
        if (historyTimer) clearTimeout(historyTimer);
        historyTimer = setTimeout(() => void get().refreshHistory(), 300);
      }
    },

    setLiveMode: (liveMode) => set({ liveMode }),
    setEdgeMode: (edgeMode) => set({ edgeMode }),
    toggleLog: () => set((s) => ({ logScale: !s.logScale })),
    setXMode: (xMode) => set({ xMode }),
    setRate: (rate) => {
      set({ rate });
      stream?.setRate(rate);
    },
    setDock: ({ open, tab }) => set((s) => ({ dockOpen: open ?? s.dockOpen, tab: tab ?? s.tab })),

    refreshHistory: async () => {
      const graphId = useEditor.getState().graphId;
      const ids = localRuns.ids();
      if (!graphId && !ids.length) {
        set({ history: [], historyStatus: "idle" });
        return;
      }
      set({ historyStatus: "loading" });
      try {
        const history = await trainApi.runs(graphId, ids);
        set({ history, historyStatus: "idle" });
      } catch {
        set({ historyStatus: "error" });
      }
    },

    toggleCompare: async (id) => {
      const { compared, history } = get();
      if (compared.some((c) => c.id === id)) {
        set({
          compared: compared.filter((c) => c.id !== id),
          metricsVersion: get().metricsVersion + 1,
        });
        return;
      }
      try {
        const m = await trainApi.metrics(id);
        const series = new Series();
        series.push(m.points);
        const r = history.find((h) => h.id === id);
        const label = r ? runLabel(r) : id.slice(0, 6);
        // At most two runs compared besides the current one.
        const next = [...get().compared.filter((c) => c.id !== id), { id, label, series }].slice(
          -2,
        );
        set({ compared: next, metricsVersion: get().metricsVersion + 1 });
      } catch (err) {
        set({
          message: { kind: "error", text: `Could not load run ${id}: ${describeError(err)}` },
        });
      }
    },

    say: (kind, text) => set({ message: { kind, text } }),

    stopMyRuns: async () => {
      const ids = Object.keys(localStorage)
        .filter((k) => k.startsWith("blockprop:runtoken:"))
        .map((k) => k.slice("blockprop:runtoken:".length));
      if (!ids.length) return 0;
      const live = (await trainApi.runs(null, ids.slice(0, 200))).filter((r) =>
        isLive(r.status, r.live),
      );
      await Promise.all(
        live.map((r) =>
          trainApi.control(r.id, "stop", runTokens.get(r.id) as string).catch(() => null),
        ),
      );
      set({ message: { kind: "info", text: `Stopped ${live.length} run(s) of yours.` } });
      return live.length;
    },
  };
});

/** Why ▶ would start a new run rather than resume this one: the graph, the dataset or a
 * setting that cannot change mid-run differs from the run's; null when it would resume. */
export function staleReason(
  run: RunView,
  settings: TrainSettings,
  dataset: DatasetSpec,
  sig: string,
): string | null {
  if (run.sig !== null && run.sig !== sig) return "the graph changed";
  const { name, ...rest } = dataset;
  const { name: rn, ...rrest } = run.dataset;
  if (name !== rn || stable(clean(rest)) !== stable(clean(rrest))) return "the dataset changed";
  for (const [k, v] of Object.entries(configOf(settings))) {
    if (LIVE.has(k)) continue;
    if (k in run.config && JSON.stringify(run.config[k]) !== JSON.stringify(v)) {
      return `${k} changed`;
    }
  }
  return null;
}

/** Steps per second that make a run of these settings last about eight seconds. */
export function watchableSpeed(s: TrainSettings, d: DatasetSpec, datasets: DatasetInfo[]): number {
  const info = datasets.find((x) => x.name === d.name);
  const n = (typeof d.n === "number" ? d.n : Number(info?.params?.n)) || 200;
  const train = Math.max(1, Math.round(n * (1 - d.test_fraction)));
  const perEpoch = s.batch_size ? Math.ceil(train / Math.min(s.batch_size, train)) : 1;
  const total = s.epochs * perEpoch;
  if (!total) return 0;
  const speed = total / 8;
  return speed >= 20 ? Math.round(speed / 10) * 10 : Math.max(2, Math.round(speed));
}

function clean(o: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

export function runLabel(r: {
  config: Record<string, unknown>;
  dataset: { name: string };
  created_at: number;
}) {
  const c = r.config;
  const batch = c.batch_size == null ? "full" : `b${c.batch_size}`;
  const time = new Date(r.created_at * 1000).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
  });
  return `${time} ${String(c.optimizer ?? "sgd")} lr ${c.lr} ${batch}`;
}

// ------------------------------------------------------------------------------- wiring

/** Keeps the training panel in step with the document: settings per graph, the run to show
 * when a graph is (re)loaded — the URL's `?run=` on first load, else the run last started on
 * this very graph — and the history. Returns the unsubscribe. */
export function startTrainWiring(): () => void {
  let first = true;
  const onLoaded = () => {
    const key = graphKey();
    const saved = readJson<{ dataset?: DatasetSpec; settings?: TrainSettings } | null>(
      SETTINGS_KEY + key,
      null,
    );
    if (saved?.dataset) useTrain.setState({ dataset: saved.dataset });
    if (saved?.settings)
      useTrain.setState({ settings: { ...DEFAULT_SETTINGS, ...saved.settings } });
    const t = useTrain.getState();
    const fromUrl = first ? urlRun() : null;
    first = false;
    const sig = signature(useEditor.getState().toDoc());
    const last = localRuns.last(key);
    const want = fromUrl ?? (last && last.sig === sig ? last.id : null);
    if (want && want !== t.run?.id) void t.attach(want, { sig: fromUrl ? null : sig });
    else if (!want && t.run && t.run.sig !== sig) t.detach();
    void t.refreshHistory();
  };
  const unsub = useEditor.subscribe((s, p) => {
    if (s.loadSeq !== p.loadSeq) onLoaded();
    else if (s.graphId !== p.graphId && s.graphId) {
      // Saved under a new id: its settings and this browser's runs move with it.
      const { dataset, settings, run } = useTrain.getState();
      writeJson(SETTINGS_KEY + s.graphId, { dataset, settings });
      for (const id of localRuns.ids(p.graphId ?? "draft").reverse()) localRuns.add(id, s.graphId);
      if (run) {
        localRuns.remember(run.id, run.sig, s.graphId);
        setTimeout(() => setUrlRun(run.id), 0); // after the editor moves the URL to /g/{id}
      }
      void useTrain.getState().refreshHistory();
    }
  });
  // The document may have loaded before this wiring started.
  if (useEditor.getState().loadSeq > 0) onLoaded();
  return unsub;
}
