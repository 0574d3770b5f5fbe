// The top bar's export split button: "Export" downloads the graph JSON as before; ▾ opens a
// menu with the graph JSON, a PyTorch module (.py) and an ONNX model (.onnx, also without
// targets for inference), and — when the training dock holds a run of this graph with
// trained state — which weights go into the model.
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../api/client";
import type { GraphDoc } from "../api/types";
import { exportFile } from "../store/documents";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { signature } from "../train/runs";
import { useTrain } from "../train/store";
import { fetchRunState, type ModelFormat, requestExport, saveBlob, stateFor } from "./exportApi";
import "./export.css";

export type Weights = "trained" | "document" | "initial";

export interface WeightsOption {
  kind: Weights;
  label: string;
  title: string;
}

/** The fields of the training store's run this menu reads. */
export interface RunLike {
  id: string;
  step: number;
  sig: string | null;
  config: Record<string, unknown>;
}

export type ModelExport = "pytorch" | "onnx" | "onnx-inference";

const FORMAT: Record<ModelExport, { format: ModelFormat; targets: boolean; label: string }> = {
  pytorch: { format: "pytorch", targets: true, label: "PyTorch" },
  onnx: { format: "onnx", targets: true, label: "ONNX" },
  "onnx-inference": { format: "onnx", targets: false, label: "ONNX" },
};

const shortId = (id: string) => (id.length > 10 ? `${id.slice(0, 8)}…` : id);

/** The seed of the engine's initialisation: the run's (so "initial" is the run's step 0),
 * else the Training tab's. */
export function initSeed(run: RunLike | null, settingsSeed: unknown): number {
  const fromRun = run?.config.seed;
  if (typeof fromRun === "number" && Number.isInteger(fromRun) && fromRun >= 0) return fromRun;
  return typeof settingsSeed === "number" && Number.isInteger(settingsSeed) && settingsSeed >= 0
    ? settingsSeed
    : 0;
}

/** The run whose trained state fits this graph: it has taken a step, and it was started on
 * this very graph (or attached without knowing, from the URL or the history). */
export function trainedRun(run: RunLike | null, doc: GraphDoc): RunLike | null {
  if (!run || !(run.step > 0)) return null;
  if (run.sig !== null && run.sig !== signature(doc)) return null;
  return run;
}

/** Which weights a model can be exported with, best first (the first is the default). */
export function weightOptions(doc: GraphDoc, run: RunLike | null, seed: number): WeightsOption[] {
  const options: WeightsOption[] = [];
  const trained = trainedRun(run, doc);
  if (trained) {
    options.push({
      kind: "trained",
      label: `trained weights (run ${shortId(trained.id)}, step ${trained.step})`,
      title: `The parameters run ${trained.id} has trained (its latest step when exported)`,
    });
  }
  if (doc.state && Object.keys(doc.state).length) {
    options.push({
      kind: "document",
      label: "weights stored in the graph",
      title: "The parameters the graph document carries (its state)",
    });
  }
  options.push({
    kind: "initial",
    label: `initial weights (seed ${seed})`,
    title: `The engine's initialisation for seed ${seed}, as training would start`,
  });
  return options;
}

/** Why PyTorch and ONNX export are off (the server would refuse), or null when they are on. */
export function disabledReason(status: string, problems: number): string | null {
  if (status === "invalid") {
    const n = problems === 1 ? "1 problem" : `${problems} problems`;
    return `The graph is invalid (${n}): fix what the status line lists before exporting a model.`;
  }
  if (status === "empty") return "The graph is empty: there is no model to export.";
  if (status === "offline") return "The server is unreachable: models are exported by the server.";
  return null;
}

const notify = (kind: "error" | "info", text: string) => useUi.getState().notify(kind, text);

const describe = (err: unknown) =>
  err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);

/** Exports the graph as drawn as a model and downloads it; every outcome ends in a notice,
 * never in a rejected promise. Resolves to the file name, or null when it failed. */
export async function exportModel(which: ModelExport, weights: Weights): Promise<string | null> {
  const { format, targets, label } = FORMAT[which];
  const doc = useEditor.getState().toDoc();
  const { run, settings } = useTrain.getState();
  const seed = initSeed(run, settings.seed);
  let graph: GraphDoc;
  let note: string;
  if (weights === "trained" && run) {
    try {
      const rs = await fetchRunState(run.id);
      // the run's input scaling goes in too: the model then takes raw data
      const ids = new Set(doc.nodes.map((n) => n.id));
      const scaling = Object.entries(rs.normalized ?? {}).filter(([id]) => ids.has(id));
      graph = { ...doc, state: stateFor(doc, rs.state) };
      if (scaling.length) graph.normalization = Object.fromEntries(scaling);
      note = `trained weights of run ${rs.run_id}, step ${rs.step}`;
    } catch (err) {
      notify(
        "error",
        `${label} export failed: no trained weights of run ${run.id}: ${describe(err)}`,
      );
      return null;
    }
  } else if (weights === "initial") {
    const { state: _dropped, ...rest } = doc;
    graph = rest;
    note = `initial weights, seed ${seed}`;
  } else {
    graph = doc;
    note = "weights stored in the graph";
  }
  try {
    const { blob, filename } = await requestExport(format, { graph, seed, targets });
    saveBlob(blob, filename);
    const kind = which === "onnx-inference" ? "inference model, " : "";
    notify("info", `Exported ${filename} (${kind}${note}).`);
    return filename;
  } catch (err) {
    notify("error", `${label} export failed: ${describe(err)}`);
    return null;
  }
}

/** "Export" (the graph JSON, as always) and ▾, the menu of formats. */
export function ExportButtons() {
  const ready = useEditor((s) => s.opsStatus === "ready");
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState<ModelExport | null>(null);
  const wrap = useRef<HTMLSpanElement>(null);
  const caret = useRef<HTMLButtonElement>(null);

  const close = (focusCaret = false) => {
    setOpen(false);
    if (focusCaret) caret.current?.focus();
  };

  const run = async (which: ModelExport, weights: Weights) => {
    close();
    setBusy(which);
    try {
      await exportModel(which, weights);
    } finally {
      setBusy(null);
    }
  };

  return (
    <span className="export-split" ref={wrap}>
      <button
        type="button"
        className="btn export-main"
        data-testid="btn-export"
        title="Download the graph as JSON (▾ for PyTorch and ONNX)"
        onClick={exportFile}
        disabled={!ready}
      >
        Export
      </button>
      <button
        ref={caret}
        type="button"
        className={`btn export-caret${open ? " is-pressed" : ""}`}
        data-testid="btn-export-menu"
        data-busy={busy ?? undefined}
        aria-label="Export as…"
        aria-haspopup="menu"
        aria-expanded={open}
        title={busy ? "Exporting…" : "Export as graph JSON, a PyTorch module or an ONNX model"}
        onClick={() => setOpen(!open)}
        disabled={!ready}
      >
        {busy ? "…" : "▾"}
      </button>
      {open && (
        <ExportMenuPanel
          anchor={caret.current}
          wrap={wrap.current}
          busy={busy}
          onClose={close}
          onJson={() => {
            close();
            exportFile();
          }}
          onModel={(which, weights) => void run(which, weights)}
        />
      )}
    </span>
  );
}

/** Where the menu goes: right-aligned under its button, in viewport coordinates. */
function placeUnder(el: HTMLElement | null) {
  const r = el?.getBoundingClientRect();
  return r ? { top: r.bottom + 4, right: Math.max(8, window.innerWidth - r.right) } : null;
}

function ExportMenuPanel(props: {
  anchor: HTMLElement | null;
  wrap: HTMLElement | null;
  busy: ModelExport | null;
  onClose: (focusCaret?: boolean) => void;
  onJson: () => void;
  onModel: (which: ModelExport, weights: Weights) => void;
}) {
  const { anchor, wrap, busy, onClose, onJson, onModel } = props;
  const menu = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState(() => placeUnder(anchor));

  // What the menu offers follows the graph and the run while it is open.
  useEditor((s) => s.revision);
  const status = useEditor((s) => s.validation.status);
  const problems = useEditor((s) => s.validation.errors.length);
  const run = useTrain((s) => s.run);
  const settingsSeed = useTrain((s) => s.settings.seed);
  const doc = useEditor.getState().toDoc();
  const seed = initSeed(run, settingsSeed);
  const options = weightOptions(doc, run, seed);
  const [choice, setChoice] = useState<Weights | null>(null);
  const weights = options.find((o) => o.kind === choice)?.kind ?? options[0].kind;
  const reason = disabledReason(status, problems);
  const modelOff = reason !== null || busy !== null;

  // Fixed under the ▾ (the toolbar scrolls sideways and would clip an absolute popup).
  useEffect(() => {
    const place = () => setPos(placeUnder(anchor));
    window.addEventListener("resize", place);
    window.addEventListener("scroll", place, true); // the toolbar scrolled under it
    return () => {
      window.removeEventListener("resize", place);
      window.removeEventListener("scroll", place, true);
    };
  }, [anchor]);

  // The first item has the focus; a click elsewhere or Esc closes, arrows move.
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    menu.current?.querySelector<HTMLElement>("[role^='menuitem']:not(:disabled)")?.focus();
  }, []);
  useEffect(() => {
    const onDown = (e: MouseEvent) => {
      if (wrap && !wrap.contains(e.target as Node)) closeRef.current();
    };
    // Esc closes it wherever the focus is (the menu's own handler returns the focus to ▾)
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && closeRef.current();
    document.addEventListener("mousedown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [wrap]);

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClose(true);
      return;
    }
    if (!["ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) return;
    e.preventDefault();
    const items = [
      ...(menu.current?.querySelectorAll<HTMLElement>("[role^='menuitem']:not(:disabled)") ?? []),
    ];
    if (!items.length) return;
    const at = items.indexOf(document.activeElement as HTMLElement);
    const next =
      e.key === "Home"
        ? 0
        : e.key === "End"
          ? items.length - 1
          : (at + (e.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
    items[next].focus();
  };

  const item = (which: ModelExport, title: string, hint: string) => (
    <button
      type="button"
      role="menuitem"
      className="export-item"
      data-testid={`export-${which}`}
      disabled={modelOff}
      title={reason ?? hint}
      onClick={() => onModel(which, weights)}
    >
      <span>{title}</span>
      <small>{hint}</small>
    </button>
  );

  return (
    <div
      ref={menu}
      className="export-menu"
      role="menu"
      aria-label="Export"
      data-testid="export-menu"
      data-weights={weights}
      style={pos ? { top: pos.top, right: pos.right } : { visibility: "hidden" }}
      onKeyDown={onKeyDown}
    >
      <button
        type="button"
        role="menuitem"
        className="export-item"
        data-testid="export-json"
        title="The graph document as drawn (import it again, or train it with the CLI)"
        onClick={onJson}
      >
        <span>Graph JSON (.json)</span>
        <small>the document as drawn</small>
      </button>
      <hr className="export-sep" />
      <fieldset className="export-weights">
        <legend className="export-heading">Model weights</legend>
        {options.length > 1 ? (
          options.map((o) => (
            <button
              key={o.kind}
              type="button"
              role="menuitemradio"
              aria-checked={weights === o.kind}
              className={`export-radio${weights === o.kind ? " is-checked" : ""}`}
              data-testid={`export-weights-${o.kind}`}
              title={o.title}
              onClick={() => setChoice(o.kind)}
            >
              <span className="export-dot" aria-hidden="true" />
              {o.label}
            </button>
          ))
        ) : (
          <div
            className="export-weights-only"
            data-testid={`export-weights-${options[0].kind}`}
            title={options[0].title}
          >
            {options[0].label}
          </div>
        )}
      </fieldset>
      {item("pytorch", "PyTorch module (.py)", "one nn.Module, a line per node")}
      {item("onnx", "ONNX model (.onnx)", "the forward pass with targets and loss")}
      {item("onnx-inference", "ONNX for inference (.onnx)", "without targets and loss")}
      {reason && (
        <p className="export-reason" data-testid="export-disabled-reason">
          {reason}
        </p>
      )}
    </div>
  );
}
