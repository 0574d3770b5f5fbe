import { type PointerEvent as ReactPointerEvent, useCallback, useEffect, useState } from "react";
import { BoundaryView } from "./BoundaryView";
import { DataPanel } from "./DataPanel";
import { HistoryPanel } from "./HistoryPanel";
import { LandscapePanel } from "./LandscapePanel";
import { LossChart } from "./LossChart";
import { PoolLoadLine } from "./PoolLoadLine";
import { RunControls } from "./RunControls";
import { SettingsPanel } from "./SettingsPanel";
import { type DockTab, type EdgeMode, type LiveMode, startTrainWiring, useTrain } from "./store";
import "./train.css";
import { isHeld } from "./types";

const TABS: [DockTab, string][] = [
  ["data", "Data"],
  ["settings", "Training"],
  ["history", "Runs"],
  ["landscape", "Landscape"],
];

/** The training dock under the canvas: controls and settings (left), the loss curves
 * (middle), the decision boundary or fit (right). */
export function TrainDock() {
  const open = useTrain((s) => s.dockOpen);
  const tab = useTrain((s) => s.tab);
  const setDock = useTrain((s) => s.setDock);
  const [height, setHeight] = useState(() => Number(localStorage.getItem("blockprop:dock")) || 290);

  useEffect(() => {
    void useTrain.getState().loadDatasets();
    return startTrainWiring();
  }, []);

  const onResize = useCallback(
    (e: ReactPointerEvent) => {
      const startY = e.clientY;
      const start = height;
      const move = (ev: PointerEvent) => setHeight(clamp(start + startY - ev.clientY));
      const up = (ev: PointerEvent) => {
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", up);
        localStorage.setItem("blockprop:dock", String(clamp(start + startY - ev.clientY)));
      };
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
    },
    [height],
  );

  return (
    <section
      className={`train-dock${open ? "" : " is-closed"}`}
      data-testid="train-dock"
      style={open ? { height } : undefined}
    >
      {open && <div className="dock-resize" onPointerDown={onResize} title="Drag to resize" />}
      <CanvasBar />
      <div className="dock-bar">
        <button
          type="button"
          className="btn ghost small"
          data-testid="btn-train-dock"
          aria-expanded={open}
          onClick={() => setDock({ open: !open })}
        >
          {open ? "▾" : "▸"} Training
        </button>
        <RunControls />
        <PoolLoadLine />
      </div>
      {open && (
        <div className="dock-body">
          <div className="dock-left">
            <div className="dock-tabs" role="tablist">
              {TABS.map(([id, label]) => (
                <button
                  key={id}
                  type="button"
                  role="tab"
                  aria-selected={tab === id}
                  data-testid={`train-tab-${id}`}
                  onClick={() => setDock({ tab: id })}
                >
                  {label}
                </button>
              ))}
            </div>
            <div className="dock-scroll">
              {tab === "data" && <DataPanel />}
              {tab === "settings" && <SettingsPanel />}
              {tab === "history" && <HistoryPanel />}
              {tab === "landscape" && <LandscapePanel />}
            </div>
          </div>
          <div className="dock-middle">
            <ChartBar />
            <DockMessage />
            <LossChart />
          </div>
          <div className="dock-right">
            <BoundaryView />
          </div>
        </div>
      )}
    </section>
  );
}

const clamp = (h: number) => Math.max(160, Math.min(window.innerHeight - 200, h));

/** Over the canvas's bottom edge: what the nodes and edges show, and how often. */
function CanvasBar() {
  const liveMode = useTrain((s) => s.liveMode);
  const edgeMode = useTrain((s) => s.edgeMode);
  const rate = useTrain((s) => s.rate);
  const s = useTrain.getState();
  const modes: [LiveMode, string][] = [
    ["value", "values"],
    ["grad", "gradients"],
    ["both", "both"],
  ];
  const edges: [EdgeMode, string][] = [
    ["off", "plain"],
    ["weight", "weights"],
    ["grad", "gradients"],
  ];
  return (
    <div className="canvas-bar" data-testid="canvas-bar">
      <fieldset className="seg small">
        <legend>nodes show</legend>
        {modes.map(([m, label]) => (
          <button
            key={m}
            type="button"
            aria-pressed={liveMode === m}
            data-testid={`live-mode-${m}`}
            onClick={() => s.setLiveMode(m)}
          >
            {label}
          </button>
        ))}
      </fieldset>
      <fieldset className="seg small">
        <legend>edges</legend>
        {edges.map(([m, label]) => (
          <button
            key={m}
            type="button"
            aria-pressed={edgeMode === m}
            data-testid={`edge-mode-${m}`}
            onClick={() => s.setEdgeMode(m)}
          >
            {label}
          </button>
        ))}
      </fieldset>
      <label className="rate" title="Live node views per second">
        <select
          data-testid="live-rate"
          value={rate}
          onChange={(e) => s.setRate(Number(e.target.value))}
        >
          {[2, 5, 10, 20, 30].map((r) => (
            <option key={r} value={r}>
              {r}/s
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

/** The chart's own toggles: log axis, per step or per epoch. */
function ChartBar() {
  const logScale = useTrain((s) => s.logScale);
  const xMode = useTrain((s) => s.xMode);
  const s = useTrain.getState();
  return (
    <div className="view-bar">
      <fieldset className="seg small">
        <legend>loss</legend>
        <button
          type="button"
          aria-pressed={logScale}
          data-testid="chart-log"
          title="Logarithmic loss axis"
          onClick={s.toggleLog}
        >
          log
        </button>
        <button
          type="button"
          aria-pressed={xMode === "epoch"}
          data-testid="chart-epochs"
          title="Per epoch instead of per step"
          onClick={() => s.setXMode(xMode === "epoch" ? "step" : "epoch")}
        >
          epochs
        </button>
      </fieldset>
    </div>
  );
}

export function DockMessage() {
  const message = useTrain((s) => s.message);
  const run = useTrain((s) => s.run);
  const settingsLr = useTrain((s) => s.settings.lr);
  const busy = useTrain((s) => s.busy);
  const lowerLr = useTrain((s) => s.lowerLr);
  const play = useTrain((s) => s.play);
  const stopMine = useTrain((s) => s.stopMyRuns);
  if (run?.status === "diverged") {
    const held = isHeld(run);
    // held: the rate the run diverged at (PATCHes land in its config); ended: the next run's
    const lr = held && typeof run.config.lr === "number" ? run.config.lr : settingsLr;
    const where = run.divergedNode ? (
      <>
        : the first non-finite value is in <code>{run.divergedNode}</code>
      </>
    ) : null;
    return (
      <div
        className="train-message is-error"
        data-testid="diverged-banner"
        data-held={held ? "true" : "false"}
      >
        {held ? (
          <>
            <b>Diverged — paused</b> at step {run.step}
            {where}. The learning rate ({lr}) is probably too high. The run holds the weights of the
            last finite step: lower the rate and resume it (or ■ to end it).{" "}
            <button
              type="button"
              className="btn tiny primary"
              data-testid="btn-resume-lower-lr"
              title="PATCH this run's learning rate to a tenth, then resume it"
              onClick={() => void lowerLr()}
              disabled={!run.canControl || !!busy}
            >
              Resume with lr ÷ 10
            </button>
          </>
        ) : (
          <>
            <b>Diverged</b> at step {run.step}
            {where}. The learning rate ({lr}) is probably too high; the weights of the last finite
            step were kept.{" "}
            <button
              type="button"
              className="btn tiny"
              data-testid="btn-lower-lr"
              title="Start a new run at a tenth of the learning rate"
              onClick={() => void lowerLr()}
              disabled={!!busy}
            >
              Retry with lr ÷ 10
            </button>
          </>
        )}
      </div>
    );
  }
  if (run?.status === "failed" && run.error) {
    return (
      <div className="train-message is-error" data-testid="train-message">
        {run.error.message}
      </div>
    );
  }
  if (!message) return null;
  return (
    <div className={`train-message is-${message.kind}`} data-testid="train-message">
      {message.text}
      {message.busyServer && (
        <>
          {" "}
          <button
            type="button"
            className="btn tiny"
            data-testid="btn-stop-mine"
            title="Stop the live runs this browser started (on any graph), then train"
            onClick={async () => {
              if ((await stopMine()) > 0) await play();
            }}
          >
            Stop my runs and train
          </button>
        </>
      )}
    </div>
  );
}
