import { useRef } from "react";
import { ClassroomButtons } from "../classroom/ClassroomButtons";
import { useCanvasCommands } from "../flow/commands";
import { confirmDiscard, importFile, newGraph, saveGraph } from "../store/documents";
import { selectCanRedo, selectCanUndo, selectDirty, useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { ExportButtons } from "./ExportMenu";
import { Status } from "./Status";

export function TopBar() {
  const name = useEditor((s) => s.name);
  const setName = useEditor((s) => s.setName);
  const dirty = useEditor(selectDirty);
  const graphId = useEditor((s) => s.graphId);
  const canUndo = useEditor(selectCanUndo);
  const canRedo = useEditor(selectCanRedo);
  const undo = useEditor((s) => s.undo);
  const redo = useEditor((s) => s.redo);
  const ready = useEditor((s) => s.opsStatus === "ready");
  const showOrder = useUi((s) => s.showOrder);
  const toggleOrder = useUi((s) => s.toggleOrder);
  const showVariables = useUi((s) => s.showVariables);
  const toggleVariables = useUi((s) => s.toggleVariables);
  const openDialog = useUi((s) => s.openDialog);
  const commands = useCanvasCommands();
  const fileInput = useRef<HTMLInputElement>(null);

  return (
    <header className="topbar" data-testid="topbar">
      <span className="brand">Blockprop</span>
      <input
        className="graph-name"
        data-testid="graph-name"
        aria-label="Graph name"
        title={name}
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <span
        className={dirty ? "save-state is-dirty" : "save-state"}
        data-testid="save-state"
        data-dirty={dirty}
        title={graphId ? `Stored as ${graphId}` : "Not stored on the server yet"}
      >
        {dirty ? "unsaved" : graphId ? "saved" : ""}
      </span>
      {graphId && (
        <button
          type="button"
          className="btn ghost small"
          data-testid="btn-share"
          title="Copy the shareable link to this graph"
          onClick={() => void copyLink(graphId)}
        >
          🔗 Link
        </button>
      )}
      <nav className="toolbar">
        <div className="group">
          <Btn id="new" title="New graph (N)" onClick={() => confirmDiscard() && newGraph()}>
            New
          </Btn>
          <Btn id="open" title="Open a stored graph" onClick={() => openDialog("open")}>
            Open
          </Btn>
          <Btn
            id="save"
            title="Save to the server (Ctrl+S)"
            onClick={() => void saveGraph()}
            disabled={!ready}
            primary
          >
            Save
          </Btn>
          <Btn id="examples" title="Worked examples" onClick={() => openDialog("examples")}>
            Examples
          </Btn>
        </div>
        <div className="group">
          <Btn
            id="import"
            title="Import a graph JSON file"
            onClick={() => fileInput.current?.click()}
            disabled={!ready}
          >
            Import
          </Btn>
          <input
            ref={fileInput}
            type="file"
            accept="application/json,.json"
            hidden
            data-testid="import-file"
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = "";
              if (file && confirmDiscard()) void importFile(file);
            }}
          />
          <ExportButtons />
        </div>
        <div className="group">
          <Btn id="undo" label="Undo" title="Undo (Ctrl+Z)" onClick={undo} disabled={!canUndo}>
            ↶
          </Btn>
          <Btn
            id="redo"
            label="Redo"
            title="Redo (Ctrl+Shift+Z)"
            onClick={redo}
            disabled={!canRedo}
          >
            ↷
          </Btn>
        </div>
        <div className="group">
          <Btn
            id="layout"
            title="Auto-layout left to right (L)"
            onClick={() => void commands.layout()}
          >
            Layout
          </Btn>
          <Btn
            id="make-block"
            title="Make block: group the selected blocks into a module (Ctrl+G)"
            onClick={commands.makeBlock}
          >
            Make block
          </Btn>
          <Btn
            id="order"
            title="Show the topological order (O)"
            onClick={toggleOrder}
            pressed={showOrder}
          >
            Order
          </Btn>
          <Btn
            id="variables"
            title="Draw computed variables (the blocks' outputs) as the notes' empty circles on the edges"
            onClick={toggleVariables}
            pressed={showVariables}
          >
            ○ z
          </Btn>
          <Btn
            id="help"
            label="Help"
            title="Keyboard shortcuts (?)"
            onClick={() => openDialog("help")}
          >
            ?
          </Btn>
        </div>
        <ClassroomButtons />
      </nav>
      <Status />
    </header>
  );
}

async function copyLink(graphId: string) {
  const url = `${window.location.origin}/g/${graphId}`;
  const notify = useUi.getState().notify;
  try {
    await navigator.clipboard.writeText(url);
    notify("info", `Link copied: ${url}`);
  } catch {
    notify("info", `Share this link: ${url}`);
  }
}

function Btn(props: {
  id: string;
  /** accessible name, for buttons that show only a symbol */
  label?: string;
  title: string;
  onClick: () => void;
  disabled?: boolean;
  primary?: boolean;
  pressed?: boolean;
  children: React.ReactNode;
}) {
  const { id, label, title, onClick, disabled, primary, pressed, children } = props;
  return (
    <button
      type="button"
      className={`btn${primary ? " primary" : ""}${pressed ? " is-pressed" : ""}`}
      data-testid={`btn-${id}`}
      title={title}
      aria-label={label}
      aria-pressed={pressed}
      onClick={onClick}
      disabled={disabled}
    >
      {children}
    </button>
  );
}
