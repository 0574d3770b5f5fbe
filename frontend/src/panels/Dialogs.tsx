import { Fragment, useMemo, useState } from "react";
import { api, knownGraphs } from "../api/client";
import type { GraphSummary } from "../api/types";
import { CLASSROOM_KEYS } from "../classroom/keys";
import { PortPicker } from "../flow/PortPicker";
import { useQuickPlace } from "../flow/quickAdd";
import { SHORTCUTS } from "../flow/shortcuts";
import { notationOf } from "../lib/notation";
import { confirmDiscard, openExample, openGraph } from "../store/documents";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { Glyph } from "./Glyph";
import { Modal } from "./Modal";
import { matchOps } from "./Palette";
import { useFetch } from "./useFetch";

export function Dialogs() {
  const dialog = useUi((s) => s.dialog);
  if (dialog === "open") return <OpenDialog />;
  if (dialog === "examples") return <ExamplesDialog />;
  if (dialog === "help") return <HelpOverlay />;
  if (dialog === "quickadd") return <QuickAdd />;
  if (dialog === "connect") return <PortPicker />;
  return null;
}

function OpenDialog() {
  const close = useUi((s) => s.closeDialog);
  const [ref, setRef] = useState("");
  const mine = useFetch(() => {
    const ids = knownGraphs.ids();
    return ids.length ? api.graphs(ids) : Promise.resolve([]);
  });
  const shared = useFetch(() => api.graphs());
  const open = (id: string) => {
    if (!confirmDiscard()) return;
    close();
    void openGraph(id);
  };
  // Accept a bare id or a pasted link ending in /g/{id}.
  const typedId = /([A-Za-z0-9_-]+)\/?$/.exec(ref.trim())?.[1];
  return (
    <Modal title="Open a stored graph" testid="dialog-open">
      <form
        className="open-by-id"
        onSubmit={(e) => {
          e.preventDefault();
          if (typedId) open(typedId);
        }}
      >
        <input
          className="open-by-id-input"
          data-testid="open-id"
          placeholder="Graph id or link"
          value={ref}
          onChange={(e) => setRef(e.target.value)}
        />
        <button type="submit" className="btn" disabled={!typedId}>
          Open
        </button>
      </form>
      <GraphList
        title="Saved or opened in this browser"
        state={mine}
        onOpen={open}
        empty="None yet: save a graph and it appears here."
      />
      <GraphList title="Public graphs" state={shared} onOpen={open} empty="No public graphs." />
    </Modal>
  );
}

function GraphList(props: {
  title: string;
  state: { data?: GraphSummary[]; error?: string; loading: boolean };
  onOpen: (id: string) => void;
  empty: string;
}) {
  const { title, state, onOpen, empty } = props;
  const list = state.data ?? [];
  return (
    <section className="graph-list">
      <h3>{title}</h3>
      {state.loading && <p className="muted">Loading…</p>}
      {state.error && <p className="error-text">{state.error}</p>}
      {!state.loading && !state.error && list.length === 0 && <p className="muted">{empty}</p>}
      <ul className="pick-list">
        {list.map((g) => (
          <li key={g.id}>
            <button type="button" data-testid={`open-item-${g.id}`} onClick={() => onOpen(g.id)}>
              <b>{g.name || g.id}</b>
              <span className="muted">
                {g.node_count} nodes · {formatTime(g.updated_at)}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Server times are Unix seconds. */
function formatTime(t: number | undefined): string {
  return t ? new Date(t * 1000).toLocaleString() : "";
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

export function HelpOverlay() {
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
      <h3 className="shortcuts-head">Classroom: explain mode and presentation</h3>
      <table className="shortcuts" data-testid="help-classroom-keys">
        <tbody>
          {CLASSROOM_KEYS.map((k) => (
            <tr key={k.action} data-action={k.action}>
              <td>
                {k.keys.map((key, i) => (
                  <Fragment key={key}>
                    {i > 0 && "  or  "}
                    <kbd>{key}</kbd>
                  </Fragment>
                ))}
              </td>
              <td>
                {k.what}
                {k.teacher ? <span className="muted"> (not when following)</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">
        Notation: shaded circles are observed variables, diamonds are parameters, double-bordered
        squares are constants (fixed numbers, not data), blocks rounded on the forward side are
        functions, dark blocks are costs. Edge labels show the shape each value carries (batch axis
        excluded). As in the notes, ȳ = G(x, w) is the model's prediction, y the desired output (a
        Target) and C(y, ȳ) the cost.
      </p>
    </Modal>
  );
}

function QuickAdd() {
  const close = useUi((s) => s.closeDialog);
  const opList = useEditor((s) => s.opList);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const place = useQuickPlace();
  const matches = useMemo(() => matchOps(opList, query).slice(0, 12), [opList, query]);

  const add = (op: string) => {
    close();
    place(op);
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
