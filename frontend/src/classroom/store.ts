// The classroom store: explain mode (the sample, the answer of POST /api/explain, the position in
// the walk, auto-play), the gradient check, the backward-graph view, presentation flags and the
// broadcast. Kept apart from the editor store: nothing here is part of the document or its history.
import { create } from "zustand";
import { ApiError } from "../api/client";
import type { GraphDoc } from "../api/types";
import { useEditor } from "../store/editor";
import { useTrain } from "../train/store";
import { classroomApi, describeError } from "./api";
import { feedsFromRow, feedText, parseFeed } from "./sample";
import type { ExplainFeed, ExplainResult, GradcheckResult, SessionView, Tensor } from "./types";
import {
  buildWalk,
  clampPosition,
  type Direction,
  paramKeys,
  type Step,
  stepInto,
  stepOut,
  type Walk,
} from "./walk";

export type Role = "solo" | "teacher" | "follower";
export type LoadStatus = "idle" | "loading" | "ready" | "error";

export interface Broadcast {
  id: string;
  token: string;
  followers: number;
  status: "live" | "error";
  error: string | null;
}

export interface GradcheckState {
  status: LoadStatus;
  result: GradcheckResult | null;
  error: string | null;
}

/** The person's choice of parameters: `null` is the default (trained when the dock has a run
 * with trained steps, else initial). */
export type WeightsChoice = "initial" | "trained" | null;

/** The run of the training dock, as explain offers it. */
export interface DockRun {
  id: string;
  step: number;
}

/** What an explain request asks for: a run's trained parameters (at a step), or none. */
export interface RunRequest {
  id: string;
  step?: number | null;
}

export interface DatasetRows {
  name: string;
  x: number[][];
  y: unknown[];
}

export interface ClassroomState {
  open: boolean;
  role: Role;
  /** the graph a follower mirrors (null: the editor's document) */
  followDoc: GraphDoc | null;

  feeds: ExplainFeed[];
  texts: Record<string, string>;
  inputError: string | null;
  source: "typed" | "dataset";
  rows: DatasetRows | null;
  row: number;
  seed: number;
  /** initial (seed) or trained parameters; see `weightsFor` */
  weights: WeightsChoice;
  /** a run whose trained parameters the server refused by default (they do not fit the graph) */
  refusedRun: string | null;
  /** why the default fell back to the initial weights */
  weightsNote: string | null;
  /** a follower: the teacher's run and step */
  followRun: RunRequest | null;
  /** what the last request asked for ("initial" or the run id), to re-explain on a change */
  requested: string | null;

  status: LoadStatus;
  error: string | null;
  result: ExplainResult | null;
  walk: Walk | null;
  /** the module instances the walk steps into (`forward:b1`, `backward:b1`); by default each
   * instance is one step (stepped over) */
  into: string[];
  /** the editor revision the result describes (null for a followed graph) */
  revision: number | null;
  position: number;
  playing: boolean;
  /** steps per second while playing */
  speed: number;
  param: string | null;
  lr: number;

  gradcheck: GradcheckState;
  backwardGraph: boolean;
  present: boolean;
  hidden: string[];
  broadcast: Broadcast | null;

  openExplain: () => void;
  closeExplain: () => void;
  toggleExplain: () => void;
  /** Explain the typed sample; `fallback` (after an edit) uses default values when it no longer fits. */
  run: (opts?: { fallback?: boolean }) => Promise<void>;
  setText: (id: string, text: string) => void;
  applyTexts: () => Promise<void>;
  setSource: (source: "typed" | "dataset") => void;
  loadDataset: (name: string) => Promise<void>;
  setRow: (row: number) => Promise<void>;
  /** The same sample again (exactly, unless its texts were edited), say with other weights. */
  rerun: () => Promise<void>;
  /** Initial or trained parameters; re-explains the sample with them. */
  setWeights: (weights: "initial" | "trained") => Promise<void>;
  /** `W`: between initial and trained (when the dock has a run). */
  toggleWeights: () => void;
  next: () => void;
  prev: () => void;
  first: () => void;
  last: () => void;
  goto: (position: number) => void;
  /** Into the module instance ahead (or just shown), or the one named: its inner nodes, one
   * step each. */
  stepInto: (which?: { kind: Direction; node: string }) => void;
  /** Out of the instance the walk is inside: it is one step again, the walk at that step. */
  stepOut: () => void;
  togglePlay: () => void;
  setPlaying: (playing: boolean) => void;
  setSpeed: (speed: number) => void;
  setParam: (key: string) => void;
  setLr: (lr: number) => void;
  runGradcheck: () => Promise<void>;
  clearGradcheck: () => void;
  toggleBackwardGraph: () => void;
  setPresent: (present: boolean) => void;
  setHidden: (hidden: string[]) => void;
  setBroadcast: (b: Broadcast | null) => void;
  follow: (doc: GraphDoc) => void;
  applyView: (view: SessionView, graphChanged: boolean) => Promise<void>;
}

let runSeq = 0;

export const docNow = (s: ClassroomState): GraphDoc => s.followDoc ?? useEditor.getState().toDoc();

/** The training dock's run, if any (read-only: the train store is not ours). */
export const dockRun = (): DockRun | null => {
  const run = useTrain.getState().run;
  return run ? { id: run.id, step: run.step } : null;
};

/** Which parameters explain uses: a follower the teacher's; otherwise the chosen ones, by
 * default the dock run's trained ones once it has taken a step (unless the server refused
 * them for this graph). */
export function weightsFor(s: ClassroomState, run: DockRun | null): RunRequest | null {
  if (s.role === "follower") return s.followRun;
  if (!run || s.weights === "initial") return null;
  if (s.weights === "trained") return { id: run.id };
  return run.step > 0 && s.refusedRun !== run.id ? { id: run.id } : null;
}

export const requestKey = (r: RunRequest | null) => (r ? r.id : "initial");

/** Where the follower should go once the current answer has arrived. */
let pendingPosition: number | null = null;

export const useClassroom = create<ClassroomState>()((set, get) => {
  /** Inputs from the typed texts, or null when none were typed yet (the server picks). */
  const typedInputs = (): Record<string, Tensor> | null | string => {
    const s = get();
    if (s.feeds.length === 0) return null;
    const inputs: Record<string, Tensor> = {};
    for (const f of s.feeds) {
      const text = s.texts[f.id];
      if (text === undefined) continue;
      const parsed = parseFeed(text, f);
      if (parsed.error) return parsed.error;
      inputs[f.id] = parsed.value as Tensor;
    }
    return inputs;
  };

  const explainWith = async (
    inputs: Record<string, Tensor> | null,
    fallback = false,
    fromTexts = false,
  ) => {
    const s = get();
    const seq = ++runSeq;
    const revision = s.followDoc ? null : useEditor.getState().revision;
    const weights = weightsFor(s, dockRun());
    set({ status: "loading", error: null, inputError: null, requested: requestKey(weights) });
    try {
      const result = await classroomApi.explain(docNow(s), inputs, s.seed, weights);
      if (seq !== runSeq) return;
      const walk = buildWalk(result, get().into);
      // what the person typed stays as typed (an answer may arrive while they type on)
      const typed = fromTexts ? get().texts : {};
      const texts: Record<string, string> = {};
      for (const f of result.feeds) texts[f.id] = typed[f.id] ?? feedText(result.inputs[f.id]);
      const params = paramKeys(result);
      const cur = get();
      const wanted = pendingPosition ?? cur.position;
      pendingPosition = null;
      set({
        status: "ready",
        result,
        walk,
        into: walk.into,
        feeds: result.feeds,
        texts,
        revision,
        position: clampPosition(wanted, walk),
        param: cur.param && params.includes(cur.param) ? cur.param : (params[0] ?? null),
        // a new sample or graph: old badges no longer describe it
        gradcheck: cur.role === "follower" ? cur.gradcheck : emptyGradcheck(),
        // the note says why the default fell back; it goes with the run it was about
        weightsNote: !weights && cur.refusedRun === dockRun()?.id ? cur.weightsNote : null,
      });
    } catch (err) {
      if (seq !== runSeq) return;
      if (fallback && inputs && err instanceof ApiError && err.body.code === "bad_feed") {
        await explainWith(null);
        return;
      }
      // By default the trained weights are tried; when they do not fit the graph (edited since
      // it trained) or the run has none yet, explain with the initial ones and say why.
      const refused =
        err instanceof ApiError &&
        (err.body.code === "state_mismatch" || err.body.code === "no_state");
      if (weights && refused && get().weights === null && get().role !== "follower") {
        set({
          refusedRun: weights.id,
          weightsNote: `The trained weights of run ${shortId(weights.id)} do not fit: ${describeError(err)}`,
        });
        await explainWith(inputs, fallback, fromTexts);
        return;
      }
      set({ status: "error", error: describeError(err), playing: false });
    }
  };

  const move = (position: number) => {
    const s = get();
    if (s.role === "follower") return;
    set({ position: clampPosition(position, s.walk) });
  };

  /** Step into or out of an instance: a new walk (its positions move) and where to stand. */
  const openOrClose = (how: typeof stepInto, which?: { kind: Direction; node: string }) => {
    const s = get();
    if (s.role === "follower" || !s.result || !s.walk) return;
    const moved = how(s.result, s.walk, s.position, which);
    if (moved) set({ walk: moved.walk, into: moved.walk.into, position: moved.position });
  };

  return {
    open: false,
    role: "solo",
    followDoc: null,
    feeds: [],
    texts: {},
    inputError: null,
    source: "typed",
    rows: null,
    row: 0,
    seed: 0,
    weights: null,
    refusedRun: null,
    weightsNote: null,
    followRun: null,
    requested: null,
    status: "idle",
    error: null,
    result: null,
    walk: null,
    into: [],
    revision: null,
    position: 0,
    playing: false,
    speed: 1,
    param: null,
    lr: 0.1,
    gradcheck: emptyGradcheck(),
    backwardGraph: false,
    present: false,
    hidden: [],
    broadcast: null,

    openExplain: () => {
      set({ open: true });
      if (get().status === "idle") void get().run();
    },
    closeExplain: () => set({ open: false, playing: false }),
    toggleExplain: () => (get().open ? get().closeExplain() : get().openExplain()),

    run: async (opts = {}) => {
      const inputs = typedInputs();
      if (typeof inputs === "string") {
        if (opts.fallback) await explainWith(null);
        else set({ inputError: inputs });
        return;
      }
      await explainWith(inputs, opts.fallback, inputs !== null);
    },

    setText: (id, text) => set((s) => ({ texts: { ...s.texts, [id]: text }, inputError: null })),
    applyTexts: async () => {
      set({ source: "typed" });
      await get().run();
    },

    setSource: (source) => set({ source }),

    loadDataset: async (name) => {
      try {
        const data = await classroomApi.dataset(name);
        set({ rows: { name, x: data.x, y: data.y }, source: "dataset" });
        await get().setRow(0);
      } catch (err) {
        set({ inputError: `Could not load ${name}: ${describeError(err)}` });
      }
    },

    setRow: async (row) => {
      const s = get();
      if (!s.rows || s.rows.x.length === 0) return;
      const r = ((row % s.rows.x.length) + s.rows.x.length) % s.rows.x.length;
      set({ row: r });
      const made = feedsFromRow(s.feeds, s.rows.x[r], s.rows.y[r]);
      if (made.error || !made.inputs) {
        set({ inputError: made.error ?? "this row does not fit the graph" });
        return;
      }
      await explainWith(made.inputs);
    },

    rerun: async () => {
      const s = get();
      const result = s.result;
      // the texts show rounded numbers: as long as they are untouched, send the sample itself
      const untouched =
        result !== null &&
        s.feeds.every((f) => (s.texts[f.id] ?? "") === feedText(result.inputs[f.id]));
      if (result && untouched) await explainWith(result.inputs, true);
      else await get().run({ fallback: true });
    },

    setWeights: async (weights) => {
      if (get().role === "follower") return;
      set({ weights, weightsNote: null, refusedRun: null });
      if (get().status !== "idle") await get().rerun();
    },
    toggleWeights: () => {
      const s = get();
      const run = dockRun();
      if (!run || s.role === "follower") return;
      void s.setWeights(weightsFor(s, run) ? "initial" : "trained");
    },

    next: () => move(get().position + 1),
    prev: () => move(get().position - 1),
    first: () => move(0),
    last: () => move(get().walk?.steps.length ?? 0),
    goto: (position) => move(position),
    stepInto: (which) => openOrClose(stepInto, which),
    stepOut: () => openOrClose(stepOut),
    togglePlay: () => get().setPlaying(!get().playing),
    setPlaying: (playing) => {
      const s = get();
      if (s.role === "follower") return;
      // playing from the end starts over
      if (playing && s.walk && s.position >= s.walk.steps.length) set({ position: 0 });
      set({ playing });
    },
    setSpeed: (speed) => set({ speed: Math.max(0.25, Math.min(8, speed)) }),
    setParam: (param) => set({ param }),
    setLr: (lr) => set({ lr: Number.isFinite(lr) ? lr : get().lr }),

    runGradcheck: async () => {
      const s = get();
      if (!s.result) await get().run();
      const result = get().result;
      if (!result) return;
      set({ gradcheck: { status: "loading", result: null, error: null } });
      try {
        // with trained parameters: those parameters, and the sample as the graph saw it
        const doc = docNow(get());
        const gc = result.run
          ? await classroomApi.gradcheck({ ...doc, state: result.state }, fedInputs(result), 0)
          : await classroomApi.gradcheck(doc, result.inputs, get().seed);
        set({ gradcheck: { status: "ready", result: gc, error: null } });
      } catch (err) {
        set({ gradcheck: { status: "error", result: null, error: describeError(err) } });
      }
    },
    clearGradcheck: () => set({ gradcheck: emptyGradcheck() }),

    toggleBackwardGraph: () => set((s) => ({ backwardGraph: !s.backwardGraph })),
    setPresent: (present) => set({ present }),
    setHidden: (hidden) => set({ hidden }),
    setBroadcast: (broadcast) => set({ broadcast }),

    follow: (doc) => set({ role: "follower", followDoc: doc, open: true }),

    applyView: async (view, graphChanged) => {
      const s = get();
      const ex = view.explain;
      set({
        open: Boolean(ex),
        backwardGraph: view.backward_graph ?? false,
        gradcheck: view.gradcheck
          ? { status: "ready", result: view.gradcheck, error: null }
          : emptyGradcheck(),
        ...(ex
          ? {
              speed: ex.speed ?? s.speed,
              lr: ex.lr ?? s.lr,
              param: ex.param ?? s.param,
            }
          : {}),
      });
      if (!ex) return;
      const inputs = (ex.inputs ?? {}) as Record<string, Tensor>;
      const followRun: RunRequest | null = ex.run_id
        ? { id: ex.run_id, step: ex.run_step ?? null }
        : null;
      const used = s.result?.run ?? null;
      const same =
        !graphChanged &&
        s.result !== null &&
        (ex.seed ?? 0) === s.seed &&
        (followRun?.id ?? null) === (used?.id ?? null) &&
        (followRun === null || followRun.step == null || followRun.step === used?.step) &&
        JSON.stringify(inputs) === JSON.stringify(s.result.inputs);
      const into = ex.into ?? [];
      if (same) {
        // the teacher's choices of step into / over decide what each position is
        const walk =
          s.result && JSON.stringify(into) !== JSON.stringify(s.into)
            ? buildWalk(s.result, into)
            : s.walk;
        set({ walk, into, position: clampPosition(ex.step ?? 0, walk) });
        return;
      }
      pendingPosition = ex.step ?? 0;
      set({ seed: ex.seed ?? 0, followRun, into });
      await explainWith(Object.keys(inputs).length ? inputs : null);
    },
  };
});

/** The sample as the graph saw it: the input nodes' values where the run normalised them. */
export function fedInputs(result: ExplainResult): Record<string, Tensor> {
  const out = { ...result.inputs };
  for (const id of Object.keys(result.run?.normalized ?? {})) {
    const node = result.nodes.find((n) => n.id === id);
    if (node) out[id] = [node.outputs[0].value];
  }
  return out;
}

function emptyGradcheck(): GradcheckState {
  return { status: "idle", result: null, error: null };
}

// ------------------------------------------------------------------ selectors

export const selectStep = (s: ClassroomState): Step | null =>
  s.walk && s.position > 0 ? (s.walk.steps[s.position - 1] ?? null) : null;

export const selectCurrentNode = (s: ClassroomState): string | null => {
  const step = selectStep(s);
  return step && step.kind !== "update" ? step.node : null;
};

/** How far the walk has got at a node: its value shown, its gradient shown, it is current. */
export function nodeStage(s: ClassroomState, id: string): "none" | "value" | "grad" {
  if (!s.open || !s.walk) return "none";
  const b = s.walk.backwardAt[id];
  if (b && s.position >= b) return "grad";
  const f = s.walk.forwardAt[id];
  return f && s.position >= f ? "value" : "none";
}

/** The view a teacher broadcasts. */
export function viewOf(s: ClassroomState): SessionView {
  const step = selectStep(s);
  return {
    explain:
      s.open && s.result
        ? {
            inputs: s.result.inputs,
            seed: s.seed,
            step: s.position,
            node: step && step.kind !== "update" ? step.node : null,
            into: s.into,
            playing: s.playing,
            speed: s.speed,
            param: s.param,
            lr: s.lr,
            // followers recompute with the same trained parameters (the server keeps them)
            run_id: s.result.run?.id ?? null,
            run_step: s.result.run?.step ?? null,
          }
        : null,
    gradcheck: s.gradcheck.result,
    backward_graph: s.backwardGraph,
    present: s.present,
  };
}

/** A run id as the panel shows it. */
export const shortId = (id: string) => id.slice(0, 6);
