import { useReactFlow, useStoreApi } from "@xyflow/react";
import { Fragment, useEffect, useRef, useState } from "react";
import { fitReadable } from "../flow/readable";
import { useEditor } from "../store/editor";
import { useTrain } from "../train/store";
import { announcement } from "./announce";
import { classroomApi } from "./api";
import { BatchExplain } from "./BatchExplain";
import { GradcheckSummary } from "./Gradcheck";
import { footerKeys } from "./keys";
import { enterPresent, exitPresent } from "./present";
import { StepCard } from "./StepCard";
import {
  requestKey,
  selectCurrentNode,
  selectStep,
  shortId,
  useClassroom,
  weightsFor,
} from "./store";
import { enclosing, intoTarget } from "./walk";

/** Explain mode: the sample, the step controls and the card for the current step. */
export function ExplainPanel() {
  const open = useClassroom((s) => s.open);
  const follower = useClassroom((s) => s.role === "follower");
  const blocks = useClassroom((s) => (s.result?.blocks?.length ?? 0) > 0);
  usePlayer();
  useRerunOnEdit();
  useRerunOnWeights();
  useRefit(open);
  useFollowWalk();
  if (!open) return null;
  return (
    <aside className="cx-panel nodrag nowheel" data-testid="explain-panel">
      <PanelHead />
      <SampleBox />
      <Controls />
      <Announce />
      <Status />
      <div className="cx-scroll">
        <StepCard />
        <GradcheckSummary />
        {!follower && <BatchExplain />}
      </div>
      <footer className="cx-keys" data-testid="explain-keys">
        {footerKeys(follower, blocks).map((g, i) => (
          <span key={g.label}>
            {i > 0 && " · "}
            {g.keys.map((k, j) => (
              <Fragment key={k}>
                {j > 0 && " "}
                <kbd>{k}</kbd>
              </Fragment>
            ))}{" "}
            {g.label}
          </span>
        ))}
      </footer>
    </aside>
  );
}

function PanelHead() {
  const close = useClassroom((s) => s.closeExplain);
  const follower = useClassroom((s) => s.role === "follower");
  const backwardGraph = useClassroom((s) => s.backwardGraph);
  const toggleBackward = useClassroom((s) => s.toggleBackwardGraph);
  const runGradcheck = useClassroom((s) => s.runGradcheck);
  const gcBusy = useClassroom((s) => s.gradcheck.status === "loading");
  const present = useClassroom((s) => s.present);
  return (
    <header className="cx-head">
      <h2>Explain</h2>
      <div className="cx-tools" data-cx="tools">
        <button
          type="button"
          className={`btn small${backwardGraph ? " is-pressed" : ""}`}
          data-testid="btn-backward-graph"
          aria-pressed={backwardGraph}
          title="The transformed graph: edges reversed, each block replaced by its VJP (B)"
          onClick={toggleBackward}
        >
          Backward graph
        </button>
        {!follower && (
          <button
            type="button"
            className="btn small"
            data-testid="btn-gradcheck"
            title="Compare backprop with finite differences on this sample (G)"
            disabled={gcBusy}
            onClick={() => void runGradcheck()}
          >
            {gcBusy ? "Checking…" : "Check gradients"}
          </button>
        )}
        <button
          type="button"
          className={`btn small${present ? " is-pressed" : ""}`}
          data-testid="btn-present"
          aria-pressed={present}
          title="Presentation mode: large type, no chrome, arrow keys step (P)"
          onClick={present ? exitPresent : enterPresent}
        >
          Present
        </button>
        {!follower && (
          <button
            type="button"
            className="btn ghost small"
            aria-label="Close explain mode"
            data-testid="explain-close"
            onClick={close}
          >
            ✕
          </button>
        )}
      </div>
    </header>
  );
}

function SampleBox() {
  const feeds = useClassroom((s) => s.feeds);
  const texts = useClassroom((s) => s.texts);
  const setText = useClassroom((s) => s.setText);
  const apply = useClassroom((s) => s.applyTexts);
  const source = useClassroom((s) => s.source);
  const inputError = useClassroom((s) => s.inputError);
  const follower = useClassroom((s) => s.role === "follower");
  if (feeds.length === 0) return null;
  return (
    <section className="cx-sample" data-cx="sample" data-testid="explain-sample">
      <div className="cx-sample-head">
        <b>Sample</b>
        {!follower && <SourcePicker />}
      </div>
      <WeightsRow />
      {source === "dataset" && !follower && <DatasetRow />}
      <form
        className="cx-feeds"
        onSubmit={(e) => {
          e.preventDefault();
          void apply();
        }}
      >
        {feeds.map((f) => (
          <label key={f.id} className="cx-feed">
            <span title={`${f.role}, shape [${f.shape.join(", ")}], ${f.dtype}`}>
              {f.id}
              <small className="muted">
                {" "}
                {f.shape.length ? `[${f.shape.join("×")}]` : f.dtype === "int" ? "label" : "scalar"}
              </small>
            </span>
            <input
              data-testid={`explain-input-${f.id}`}
              value={texts[f.id] ?? ""}
              readOnly={follower}
              spellCheck={false}
              onChange={(e) => setText(f.id, e.target.value)}
              onBlur={() => {
                if (!follower) void apply();
              }}
            />
          </label>
        ))}
        {!follower && (
          <button type="submit" className="btn small" data-testid="explain-run">
            Run
          </button>
        )}
      </form>
      {inputError && (
        <p className="error-text" data-testid="explain-input-error">
          {inputError}
        </p>
      )}
    </section>
  );
}

function SourcePicker() {
  const feeds = useClassroom((s) => s.feeds);
  const rows = useClassroom((s) => s.rows);
  const loadDataset = useClassroom((s) => s.loadDataset);
  const setSource = useClassroom((s) => s.setSource);
  const source = useClassroom((s) => s.source);
  const [datasets, setDatasets] = useState<{ name: string; title: string; features: number }[]>([]);
  const input = feeds.filter((f) => f.role === "input");
  const width = input.length === 1 ? input[0].shape.reduce((a, b) => a * b, 1) : -1;
  useEffect(() => {
    let alive = true;
    classroomApi
      .datasets()
      .then((list) => alive && setDatasets(list))
      .catch(() => undefined);
    return () => {
      alive = false;
    };
  }, []);
  const fits = datasets.filter((d) => d.features === width);
  const value = source === "dataset" && rows ? rows.name : "";
  return (
    <select
      data-testid="explain-source"
      aria-label="Sample source"
      value={value}
      title="Type the values, or take one row of a dataset with as many features as the input"
      onChange={(e) => {
        if (e.target.value) void loadDataset(e.target.value);
        else setSource("typed");
      }}
    >
      <option value="">typed values</option>
      {fits.map((d) => (
        <option key={d.name} value={d.name}>
          row of {d.title || d.name}
        </option>
      ))}
    </select>
  );
}

/** Initial (seed) or trained parameters: the training dock's run, when it has one. */
function WeightsRow() {
  const follower = useClassroom((s) => s.role === "follower");
  const seed = useClassroom((s) => s.seed);
  const used = useClassroom((s) => s.result?.run ?? null);
  const note = useClassroom((s) => s.weightsNote);
  const setWeights = useClassroom((s) => s.setWeights);
  const runId = useTrain((s) => s.run?.id ?? null);
  const runStep = useTrain((s) => s.run?.step ?? 0);
  const offered = follower ? used : runId ? { id: runId, step: runStep } : null;
  const value = used ? "trained" : "initial";
  const newer = !follower && used && used.id === runId && runStep > used.step;
  return (
    <>
      <div className="cx-row cx-weights">
        <label htmlFor="explain-weights">Weights</label>
        <select
          id="explain-weights"
          data-testid="explain-weights"
          value={value}
          disabled={follower || !offered}
          title={
            offered
              ? "The initial parameters (from the seed) or those the run in the training dock has learnt (W)"
              : "Train the graph in the dock to explain it with trained weights"
          }
          onChange={(e) => void setWeights(e.target.value as "initial" | "trained")}
        >
          <option value="initial">initial (seed {seed})</option>
          {offered && (
            <option value="trained">
              trained — run {shortId(offered.id)}, step{" "}
              {used?.id === offered.id ? used.step : offered.step}
            </option>
          )}
        </select>
        {newer && (
          <button
            type="button"
            className="btn small"
            data-testid="explain-weights-refresh"
            title="The run has trained on: explain with its parameters now"
            onClick={() => void useClassroom.getState().rerun()}
          >
            ↻ step {runStep}
          </button>
        )}
      </div>
      {note && (
        <p className="muted cx-weights-note" data-testid="explain-weights-note">
          {note}
        </p>
      )}
    </>
  );
}

function DatasetRow() {
  const rows = useClassroom((s) => s.rows);
  const row = useClassroom((s) => s.row);
  const setRow = useClassroom((s) => s.setRow);
  if (!rows) return null;
  return (
    <div className="cx-row">
      <button type="button" className="btn small" onClick={() => void setRow(row - 1)}>
        ‹
      </button>
      <span data-testid="explain-row">
        row {row + 1} of {rows.x.length}
      </span>
      <button type="button" className="btn small" onClick={() => void setRow(row + 1)}>
        ›
      </button>
    </div>
  );
}

function Controls() {
  const position = useClassroom((s) => s.position);
  const total = useClassroom((s) => s.walk?.steps.length ?? 0);
  const step = useClassroom(selectStep);
  const playing = useClassroom((s) => s.playing);
  const speed = useClassroom((s) => s.speed);
  const follower = useClassroom((s) => s.role === "follower");
  const a = useClassroom.getState();
  const phase = step ? step.kind : "start";
  const node = step && step.kind !== "update" ? step.node : "";
  return (
    <div className="cx-controls" data-cx="steps">
      <button
        type="button"
        className="btn small"
        data-testid="explain-first"
        title="Back to the start (Home)"
        disabled={follower || position === 0}
        onClick={a.first}
      >
        «
      </button>
      <button
        type="button"
        className="btn small"
        data-testid="explain-prev"
        title="Previous step (←)"
        disabled={follower || position === 0}
        onClick={a.prev}
      >
        ‹ Prev
      </button>
      <button
        type="button"
        className="btn small primary"
        data-testid="explain-next"
        title="Next step (→)"
        disabled={follower || position >= total}
        onClick={a.next}
      >
        Next ›
      </button>
      <button
        type="button"
        className={`btn small${playing ? " is-pressed" : ""}`}
        data-testid="explain-play"
        aria-pressed={playing}
        title="Auto-play (Space)"
        disabled={follower || total === 0}
        onClick={a.togglePlay}
      >
        {playing ? "❚❚ Pause" : "▶ Play"}
      </button>
      <BlockButtons />
      <label className="cx-speed" title="Steps per second while playing">
        <input
          type="range"
          min={0.25}
          max={4}
          step={0.25}
          value={speed}
          disabled={follower}
          data-testid="explain-speed"
          onChange={(e) => a.setSpeed(Number(e.target.value))}
        />
        <span>{speed}/s</span>
      </label>
      <span
        className="cx-counter"
        data-testid="explain-step"
        data-position={position}
        data-total={total}
        data-phase={phase}
        data-node={node}
      >
        {position}/{total} · {phase}
        {node ? ` ${node}` : ""}
      </span>
    </div>
  );
}

/** The walk for screen readers: each step said once (outside the step controls, which a
 * presenter may hide). */
function Announce() {
  const text = useClassroom(announcement);
  return (
    <p className="sr-only" role="status" aria-live="polite" data-testid="explain-announce">
      {text}
    </p>
  );
}

/** Step into the module instance ahead, or out of the one the walk is inside (graphs with
 * modules only). */
function BlockButtons() {
  const walk = useClassroom((s) => s.walk);
  const position = useClassroom((s) => s.position);
  const step = useClassroom(selectStep);
  const follower = useClassroom((s) => s.role === "follower");
  const a = useClassroom.getState();
  if (!walk || Object.keys(walk.blocks).length === 0) return null;
  const target = intoTarget(walk, position);
  const around = enclosing(walk, step);
  const inner = around[around.length - 1];
  return (
    <>
      <button
        type="button"
        className="btn small"
        data-testid="explain-step-into"
        data-block={target?.node}
        title="Walk through the module's inner blocks one by one (↓ or I)"
        disabled={follower || !target}
        onClick={() => a.stepInto()}
      >
        <span aria-hidden="true">↘</span> Step into{target ? ` ${target.node}` : ""}
      </button>
      <button
        type="button"
        className="btn small"
        data-testid="explain-step-out"
        data-block={inner?.id}
        title="Take the module whole again, as one step (↑ or U)"
        disabled={follower || !inner}
        onClick={() => a.stepOut()}
      >
        <span aria-hidden="true">↖</span> Step out{inner ? ` of ${inner.id}` : ""}
      </button>
    </>
  );
}

function Status() {
  const status = useClassroom((s) => s.status);
  const error = useClassroom((s) => s.error);
  const resultRevision = useClassroom((s) => (s.role === "follower" ? null : s.revision));
  const revision = useEditor((s) => s.revision);
  if (status === "error") {
    return (
      <p className="cx-status error-text" data-testid="explain-error">
        {error}
      </p>
    );
  }
  if (status === "loading") return <p className="cx-status muted">Computing…</p>;
  if (resultRevision !== null && resultRevision !== revision) {
    return <p className="cx-status muted">The graph changed: recomputing once it is valid…</p>;
  }
  return null;
}

/** The canvas narrows beside the panel (classroom.css): frame the graph again. */
function useRefit(open: boolean) {
  const rf = useReactFlow();
  const present = useClassroom((s) => s.present);
  const first = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: refit when the layout changes
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    // never on an empty canvas: React Flow would keep the request for the first node added
    if (rf.getNodes().length === 0) return;
    // readable (issue 16): text stays ≥ 12 px on screen, a wide graph is panned, not shrunk
    const t = setTimeout(() => fitReadable(rf, 200), 120);
    return () => clearTimeout(t);
  }, [open, present, rf]);
}

/** Keeps the node the walk is at on screen: pans to it when it is off screen, and zooms in when
 * the graph is drawn too small to read. */
function useFollowWalk() {
  const rf = useReactFlow();
  const store = useStoreApi();
  const current = useClassroom(selectCurrentNode);
  useEffect(() => {
    if (!current) return;
    // an inner node of an instance (b1/l) is on the canvas as its instance (b1)
    const parts = current.split("/");
    const ids = parts.map((_, i) => parts.slice(0, parts.length - i).join("/"));
    const node = ids.map((id) => rf.getInternalNode(id)).find((n) => n !== undefined);
    if (!node) return;
    const { width, height } = store.getState();
    const { x, y, zoom } = rf.getViewport();
    const w = node.measured.width ?? 100;
    const h = node.measured.height ?? 50;
    const left = node.internals.positionAbsolute.x;
    const cx = left + w / 2;
    const cy = node.internals.positionAbsolute.y + h / 2;
    // the part of the pane the panel leaves free (it overlays the canvas in present mode)
    const visible = visibleWidth(store.getState().domNode, width);
    const sy = cy * zoom + y;
    const margin = 40;
    const offscreen =
      left * zoom + x < margin ||
      sy < margin ||
      (left + w) * zoom + x > visible - margin ||
      sy > height - margin;
    // centred in the free part: setCenter centres on the whole pane, so shift by the difference
    const shift = (width - visible) / 2;
    if (zoom < 0.5) void rf.setCenter(cx + shift / 0.8, cy, { zoom: 0.8, duration: 250 });
    else if (offscreen) void rf.setCenter(cx + shift / zoom, cy, { zoom, duration: 250 });
  }, [current, rf, store]);
}

/** How much of the canvas, from its left edge, the explain panel leaves uncovered. */
function visibleWidth(flow: Element | null, paneWidth: number): number {
  const pane = flow?.getBoundingClientRect();
  const panel = document.querySelector(".cx-panel")?.getBoundingClientRect();
  if (!pane || !panel || panel.left <= pane.left || panel.left >= pane.right) return paneWidth;
  return Math.max(120, panel.left - pane.left);
}

/** Auto-play: one step every 1/speed seconds, stopping at the end. */
function usePlayer() {
  const playing = useClassroom((s) => s.playing);
  const position = useClassroom((s) => s.position);
  const speed = useClassroom((s) => s.speed);
  const total = useClassroom((s) => s.walk?.steps.length ?? 0);
  useEffect(() => {
    if (!playing) return;
    if (position >= total) {
      useClassroom.getState().setPlaying(false);
      return;
    }
    const t = setTimeout(() => useClassroom.getState().next(), 1000 / speed);
    return () => clearTimeout(t);
  }, [playing, position, speed, total]);
}

/** Explain follows the weights chosen: a change of choice, a run appearing in the dock (or
 * taking its first step, for the default) or going: explain again. */
function useRerunOnWeights() {
  const open = useClassroom((s) => s.open);
  const follower = useClassroom((s) => s.role === "follower");
  const idle = useClassroom((s) => s.status === "idle");
  const requested = useClassroom((s) => s.requested);
  const runId = useTrain((s) => s.run?.id ?? null);
  const trainedYet = useTrain((s) => (s.run?.step ?? 0) > 0);
  const wanted = useClassroom((s) =>
    requestKey(weightsFor(s, runId ? { id: runId, step: trainedYet ? 1 : 0 } : null)),
  );
  useEffect(() => {
    if (!open || follower || idle || wanted === requested) return;
    void useClassroom.getState().rerun();
  }, [open, follower, idle, wanted, requested]);
}

/** Explain follows the drawing: after an edit, once the graph is valid again, recompute. */
function useRerunOnEdit() {
  const open = useClassroom((s) => s.open);
  const follower = useClassroom((s) => s.role === "follower");
  const status = useEditor((s) => s.validation.status);
  const revision = useEditor((s) => s.revision);
  const resultRevision = useClassroom((s) => s.revision);
  const hasRun = useClassroom((s) => s.status !== "idle");
  useEffect(() => {
    if (!open || follower || !hasRun || status !== "valid") return;
    if (resultRevision === revision) return;
    const t = setTimeout(() => void useClassroom.getState().run({ fallback: true }), 150);
    return () => clearTimeout(t);
  }, [open, follower, hasRun, status, revision, resultRevision]);
}
