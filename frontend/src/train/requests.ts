// The requests the run controls are made of, bound to the store: a control request with its
// error reported in the dock, its answer merged into the run watched (never behind what the
// stream said meanwhile), and a new run started from the document and the panel's settings.
import { useEditor } from "../store/editor";
import { describeError, runTokens, trainApi } from "./api";
import { statusesSeen } from "./liveSlice";
import { localRuns } from "./persist";
import { type RunView, signature, staleReason } from "./runs";
import { configOf, LIVE } from "./settings";
import type { TrainSlice } from "./store";
import { isLive, type RunRead, takesPlace } from "./types";

type Set = Parameters<TrainSlice<unknown>>[0];
type Get = Parameters<TrainSlice<unknown>>[1];

/** The run's edit token, when this browser started it. */
export const token = (run: RunView | null) => (run ? runTokens.get(run.id) : null);

export function runRequests(set: Set, get: Get) {
  /** Runs a control request, reporting its error in the dock. */
  const guarded = async (name: string, fn: () => Promise<void>) => {
    if (get().busy) return;
    set({ busy: name, message: null });
    try {
      await fn();
    } catch (err) {
      const busyServer = (err as { status?: number }).status === 429;
      // Except "the server is busy", a failed request was about this graph (empty, invalid…).
      set({
        message: { kind: "error", text: describeError(err), busyServer, aboutGraph: !busyServer },
      });
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
    const sent = statusesSeen();
    mergeRun(await request, sent);
  };

  const mergeRun = (r: RunRead, sent: number) => {
    const run = get().run;
    if (!run || run.id !== r.id) return;
    // The stream may be ahead of this answer: never move progress backwards, and keep the
    // status it reported while the request was under way (it is the later word).
    const newer = statusesSeen() !== sent;
    set({
      run: {
        ...run,
        ...(newer
          ? {}
          : {
              status: r.status,
              live: isLive(r.status, r.live),
              reason: r.reason ?? null,
              queue: r.status === "queued" ? (r.queue ?? run.queue) : null,
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
      // (a setting the run's config does not record is one it was never given: leave it)
      if (typeof v !== "number" || !(k in run.config) || run.config[k] === v) continue;
      if (k === "momentum" && s.optimizer !== "momentum") continue;
      out[k] = v;
    }
    return out;
  };

  const startRun = async (paused: boolean) => {
    const old = get().run;
    if (takesPlace(old) && old && token(old)) {
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

  return { guarded, control, merge, stale, liveChanges, startRun };
}
