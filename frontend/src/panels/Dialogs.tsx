import { useMemo, useState } from "react";
import { api } from "../api/client";
import type { GraphSummary } from "../api/types";
import { useAddOp } from "../flow/placement";
import { SHORTCUTS } from "../flow/shortcuts";
import { notationOf } from "../lib/notation";
import { confirmDiscard, openExample, openGraph } from "../store/documents";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { Glyph } from "./Glyph";
import { Modal } from "./Modal";
import { matchOps } from "./Palette";
import { lastPointer } from "./pointer";
import { useFetch } from "./useFetch";

export function Dialogs() {
  const dialog = useUi((s) => s.dialog);
  if (dialog === "open") return <OpenDialog />;
  if (dialog === "examples") return <ExamplesDialog />;
  if (dialog === "help") return <HelpOverlay />;
  if (dialog === "quickadd") return <QuickAdd />;
  return null;
}

function OpenDialog() {
  const close = useUi((s) => s.closeDialog);
  const { data, error, loading } = useFetch(api.graphs);
  // Tolerate a wrapped list ({items: [...]}) as well as a bare one.
  const list: GraphSummary[] = Array.isArray(data)
    ? data
    : ((data as { items?: GraphSummary[] } | undefined)?.items ?? []);
  return (
    <Modal title="Open a stored graph" testid="dialog-open">
      {loading && <p className="muted">Loading…</p>}
      {error && <p className="error-text">{error}</p>}
      {!loading && !error && list.length === 0 && (
        <p className="muted">No stored graphs yet. Save one first.</p>
      )}
      <ul className="pick-list">
        {list.map((g) => (
          <li key={g.id}>
            <button
              type="button"
              data-testid={`open-item-${g.id}`}
              onClick={() => {
                if (!confirmDiscard()) return;
                close();
                void openGraph(g.id);
              }}
            >
              <b>{g.name || g.id}</b>
              <span className="muted">
                {g.id}
                {g.updated_at ? ` · ${new Date(g.updated_at).toLocaleString()}` : ""}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}

function ExamplesDialog() {
  const close = useUi((s) => s.closeDialog);
  const { data, error, loading } = useFetch(api.examples);
  return (
    <Modal title="Examples" testid="dialog-examples" wide>
      {loading && <p className="muted">Loading…</p>}
      {error && <p className="error-text">{error}</p>}
      <ul className="gallery">
        {(data ?? []).map((ex) => (
          <li key={ex.id}>
            <button
              type="button"
              data-testid={`example-${ex.id}`}
              onClick={() => {
                if (!confirmDiscard()) return;
                close();
                void openExample(ex.id);
              }}
            >
              <b>{ex.title}</b>
              <span>{ex.description}</span>
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}

function HelpOverlay() {
  return (
    <Modal title="Keyboard shortcuts" testid="help-overlay" wide>
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.keys}>
              <td>
                <kbd>{s.keys}</kbd>
              </td>
              <td>{s.what}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        Notation: shaded circles are observed variables, diamonds are parameters, blocks rounded on
        the forward side are functions, dark blocks are costs. Edge labels show the shape each value
        carries (batch axis excluded).
      </p>
    </Modal>
  );
}

function QuickAdd() {
  const close = useUi((s) => s.closeDialog);
  const opList = useEditor((s) => s.opList);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const addOp = useAddOp();
  const matches = useMemo(() => matchOps(opList, query).slice(0, 12), [opList, query]);

  const add = (op: string) => {
    close();
    addOp(op, lastPointer());
  };

  return (
    <Modal title="Add an op" testid="quick-add">
      <input
        className="quick-input"
        data-testid="quick-add-input"
        placeholder="Type an op name…"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") setActive((a) => Math.min(a + 1, matches.length - 1));
          else if (e.key === "ArrowUp") setActive((a) => Math.max(a - 1, 0));
          else if (e.key === "Enter" && matches[active]) add(matches[active].name);
          else return;
          e.preventDefault();
        }}
      />
      <ul className="pick-list compact">
        {matches.map((o, i) => (
          <li key={o.name}>
            <button
              type="button"
              className={i === active ? "is-active" : ""}
              data-testid={`quick-add-item-${o.name}`}
              onMouseEnter={() => setActive(i)}
              onClick={() => add(o.name)}
            >
              <Glyph notation={notationOf(o)} />
              <b>{o.label}</b>
              <span className="muted">{o.name}</span>
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}
