// Run control: ▶ starts, resumes or restarts as a person expects; ⏸, one step, ■, reset;
// the learning rate ÷ 10 after a divergence; and stopping every run this browser started.
import { describeError, runTokens, trainApi } from "./api";
import { localRuns, savedSettings } from "./persist";
import { runRequests, token } from "./requests";
import type { TrainSlice } from "./store";
import { isHeld, isLive, takesPlace } from "./types";

export interface ControlSlice {
  busy: string | null;

  play: () => Promise<void>;
  pause: () => Promise<void>;
  stepOnce: () => Promise<void>;
  stop: () => Promise<void>;
  reset: () => Promise<void>;
  /** After a divergence, the learning rate ÷ 10: a held run is PATCHed and resumed (the same
   * run); a run that ended starts anew at that rate. */
  lowerLr: () => Promise<void>;
  /** Sends the live settings (lr, momentum, …) changed while the run waited in the queue, once
   * it has a place (a queued run takes no PATCH). */
  catchUpSettings: () => Promise<void>;
  /** Stops every run this browser started (it holds their tokens) that is live or waiting for
   * a place; returns how many. */
  stopMyRuns: () => Promise<number>;
}

export const createControlSlice: TrainSlice<ControlSlice> = (set, get) => {
  const persist = () => savedSettings.write(get());
  const { guarded, control, merge, stale, liveChanges, startRun } = runRequests(set, get);

  return {
    busy: null,

    play: () =>
      guarded("play", async () => {
        const run = get().run;
        // on its way already (a queued run starts by itself when a place frees)
        if (run && (run.status === "running" || run.status === "starting")) return;
        if (run?.status === "queued") return;
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
        if (run?.status === "queued") return; // nothing to step before it has a place
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
        if (takesPlace(run) && run && token(run)) {
          await trainApi.control(run.id, "stop", token(run) as string).catch(() => undefined);
        }
        localRuns.remember(null, null);
        get().detach();
        void get().refreshHistory();
      }),

    catchUpSettings: async () => {
      const run = get().run;
      const t = token(run);
      if (!run?.live || !t) return;
      const changes = liveChanges(run);
      if (!Object.keys(changes).length) return;
      await merge(trainApi.update(run.id, changes, t)).catch((err) =>
        set({ message: { kind: "error", text: describeError(err) } }),
      );
    },

    stopMyRuns: async () => {
      const ids = Object.keys(localStorage)
        .filter((k) => k.startsWith("blockprop:runtoken:"))
        .map((k) => k.slice("blockprop:runtoken:".length));
      if (!ids.length) return 0;
      // live or waiting for a place: both count against this browser's share
      const live = (await trainApi.runs(null, ids.slice(0, 200))).filter(
        (r) => isLive(r.status, r.live) || r.status === "queued",
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
};
