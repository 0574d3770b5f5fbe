import { useMemo } from "react";
import { useEditor } from "../store/editor";
import { fmt } from "./draw";
import { signature, staleReason, statusText } from "./runs";
import { useTrain } from "./store";
import { isHeld, takesPlace } from "./types";

/** Play, pause, one step, stop, reset, and the run's status line. */
export function RunControls() {
  const run = useTrain((s) => s.run);
  const busy = useTrain((s) => s.busy);
  const play = useTrain((s) => s.play);
  const pause = useTrain((s) => s.pause);
  const stepOnce = useTrain((s) => s.stepOnce);
  const stop = useTrain((s) => s.stop);
  const reset = useTrain((s) => s.reset);
  // a queued run is on its way too: ▶ gives way to (a disabled) pause until it has a place
  const queued = run?.status === "queued";
  const running = run?.status === "running" || run?.status === "starting" || queued;
  const readOnly = !!run && !run.canControl;
  const stoppable = takesPlace(run);
  const stale = useStale();
  // ▶ resumes a paused, interrupted, or diverged-and-held run (unless something it cannot
  // change changed)
  const resumable = run?.status === "paused" || run?.status === "interrupted" || isHeld(run);

  return (
    <div className="run-controls">
      <div className="run-buttons">
        {running ? (
          <button
            type="button"
            className="btn"
            data-testid="btn-train-pause"
            title={
              queued
                ? "Waiting for a place: it starts by itself (■ stops it)"
                : "Pause (the run keeps its state)"
            }
            onClick={() => void pause()}
            disabled={readOnly || !!busy || queued}
          >
            ❚❚ Pause
          </button>
        ) : (
          <button
            type="button"
            className="btn primary"
            data-testid="btn-train-play"
            title={resumable && !stale ? "Resume" : "Train this graph on the dataset"}
            onClick={() => void play()}
            disabled={!!busy}
          >
            ▶ {resumable && !stale ? "Resume" : "Train"}
          </button>
        )}
        <button
          type="button"
          className="btn"
          data-testid="btn-train-step"
          title="One step (one batch), then pause"
          onClick={() => void stepOnce()}
          disabled={readOnly || !!busy || queued}
        >
          ▸| Step
        </button>
        <button
          type="button"
          className="btn"
          data-testid="btn-train-stop"
          title="Stop the run (its trained state stays)"
          onClick={() => void stop()}
          disabled={!stoppable || readOnly || !!busy}
        >
          ■
        </button>
        <button
          type="button"
          className="btn"
          data-testid="btn-train-reset"
          title="Reset: stop and forget this run; ▶ starts afresh"
          onClick={() => void reset()}
          disabled={!run || !!busy}
        >
          ↺
        </button>
      </div>
      {stale && (
        <span
          className="run-stale"
          data-testid="run-stale"
          data-running={running || undefined}
          role="status"
          title="▶ starts a new run"
        >
          {running
            ? `${stale}: this run goes on with what it started from (■ then ▶ trains the change)`
            : `${stale}: ▶ starts a new run`}
        </span>
      )}
      <RunStatusLine />
      <RunAnnouncer />
    </div>
  );
}

/** Why ▶ would start a new run instead of resuming the paused one (null: it resumes). */
function useStale(): string | null {
  const run = useTrain((s) => s.run);
  const settings = useTrain((s) => s.settings);
  const dataset = useTrain((s) => s.dataset);
  const revision = useEditor((s) => s.revision);
  // Paused: ▶ would start afresh. Running: what trains is no longer what is drawn.
  const paused =
    run?.status === "paused" ||
    run?.status === "interrupted" ||
    run?.status === "running" ||
    isHeld(run);
  const runKey = paused && run ? `${run.id}:${JSON.stringify(run.config)}` : "";
  // biome-ignore lint/correctness/useExhaustiveDependencies: recomputed when the document (revision) or the run's config changes, not on every progress update
  return useMemo(() => {
    const r = useTrain.getState().run;
    if (!runKey || !r) return null;
    const sig = signature(useEditor.getState().toDoc());
    return staleReason(r, settings, dataset, sig);
  }, [runKey, settings, dataset, revision]);
}

function RunStatusLine() {
  const run = useTrain((s) => s.run);
  const busy = useTrain((s) => s.busy);
  const speed = useTrain((s) => s.stepsPerSec);
  const lr = useTrain((s) => s.lr);
  const connection = useTrain((s) => s.connection);
  const detail = useTrain((s) => s.connectionDetail);
  const accuracy = useTrain((s) => (s.metricsVersion >= 0 ? s.series.lastAccuracy : null));
  const testLoss = useTrain((s) => (s.metricsVersion >= 0 ? s.series.lastTest : null));
  const metricsStep = useTrain((s) => (s.metricsVersion >= 0 ? (s.series.last?.step ?? 0) : 0));
  const loss = useTrain((s) =>
    s.metricsVersion >= 0 ? (s.series.lastTrain ?? s.series.last?.loss ?? null) : null,
  );
  const queued = run?.status === "queued";
  if (!run) {
    return (
      <div className="run-status" data-testid="run-status" data-status="none">
        <span className="muted">No run yet.</span>
      </div>
    );
  }
  return (
    <div
      className="run-status"
      data-testid="run-status"
      data-status={run.status}
      data-step={run.step}
      data-epoch={run.epoch}
      data-lr={lr ?? undefined}
      data-accuracy={accuracy ?? undefined}
      data-loss={loss ?? undefined}
      data-connection={connection}
      data-live={run.live}
      data-run-lr={typeof run.config.lr === "number" ? run.config.lr : undefined}
      data-busy={busy ?? undefined}
      data-diverged-node={run.divergedNode ?? undefined}
      data-metrics-step={metricsStep}
      data-queue-position={run.queue?.position}
      data-queue-ahead={run.queue?.ahead}
    >
      <span
        className={`run-badge status-${run.status}`}
        data-testid="run-badge"
        title={run.reason ?? run.status}
      >
        {statusText(run)}
      </span>
      {/* waiting, it has no progress to show yet */}
      {!queued && (
        <>
          <span className="stat" data-testid="run-step">
            step {run.step}
          </span>
          <span className="stat" data-testid="run-epoch">
            epoch {run.epoch}
          </span>
        </>
      )}
      {/* a rate only means something while it runs: its room goes to the rest otherwise */}
      {(run.live || speed !== null) && (
        <span className="stat w-speed" data-testid="run-speed" title="steps per second">
          {speed === null ? "—" : fmt(speed)} steps/s
        </span>
      )}
      <span className="stat" data-testid="run-lr" title="learning rate">
        lr {fmt(lr ?? (run.config.lr as number))}
      </span>
      {!queued && (
        <span className="stat w-num" data-testid="run-loss" title="train loss (last epoch)">
          loss {fmt(loss)}
        </span>
      )}
      {testLoss !== null && (
        <span className="stat w-num" title="test loss">
          test {fmt(testLoss)}
        </span>
      )}
      {accuracy !== null && (
        <span className="stat w-acc" data-testid="run-accuracy" title="test accuracy">
          test acc {fmt(accuracy)}
        </span>
      )}
      {connection === "reconnecting" && (
        <span className="run-conn" data-testid="run-reconnecting" title={detail ?? ""}>
          reconnecting…
        </span>
      )}
      {connection === "closed" && (
        <span className="run-conn" data-testid="run-disconnected">
          disconnected{detail ? `: ${detail}` : ""}
        </span>
      )}
      {!run.canControl && (
        <span className="muted" title="Started in another browser: you can watch it">
          read-only
        </span>
      )}
      {run.reason && !queued && (!run.live || isHeld(run)) && (
        <span className="muted run-reason" data-testid="run-reason" title={run.reason}>
          {run.reason}
        </span>
      )}
      {run.status === "interrupted" && (
        <span className="muted">(the server restarted: ▶ resumes from the last checkpoint)</span>
      )}
    </div>
  );
}

/** The run's status for a screen reader: a polite live region, always in the page, that says
 * the status phrase when it changes ("waiting — 2 ahead of you", "running", "done") and never
 * the numbers that tick with every step. */
function RunAnnouncer() {
  const text = useTrain((s) => (s.run ? statusText(s.run) : ""));
  return (
    <span className="sr-only" role="status" aria-live="polite" data-testid="run-announce">
      {text && `Training run: ${text}`}
    </span>
  );
}
