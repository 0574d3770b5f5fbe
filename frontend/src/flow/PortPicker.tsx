// Connecting without a mouse: Enter on a focused port opens this list of the ports it can be
// wired to; type to filter, arrows to choose, Enter to connect.
import { useMemo, useState } from "react";
import { create } from "zustand";
import { Modal } from "../panels/Modal";
import { connectSmart } from "../smart/store";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { focusWhenDrawn, type WireEnd } from "./quickAdd";

export const usePortPick = create<{ from: WireEnd | null }>()(() => ({ from: null }));

/** Enter on a port: choose the other end. */
export function pickPortFor(from: WireEnd) {
  usePortPick.setState({ from });
  useUi.getState().openDialog("connect");
}

interface Candidate {
  node: string;
  port: string;
  text: string;
  taken: boolean;
}

function candidates(from: WireEnd): Candidate[] {
  const s = useEditor.getState();
  const out: Candidate[] = [];
  // a wire stays on its side of an open module block's border
  const side = s.nodes.find((n) => n.id === from.node)?.parentId;
  for (const n of s.nodes) {
    if (n.id === from.node || n.parentId !== side) continue;
    const spec = s.ops[n.data.op];
    if (!spec) continue;
    const ports = from.type === "source" ? spec.inputs : spec.outputs;
    for (const p of ports) {
      const taken =
        from.type === "source" &&
        s.edges.some((e) => e.target === n.id && e.targetHandle === p.name);
      out.push({ node: n.id, port: p.name, text: `${n.id} · ${p.name} (${spec.label})`, taken });
    }
  }
  // Free ports first: they are what one usually wires next.
  return out.sort((a, b) => Number(a.taken) - Number(b.taken));
}

export function PortPicker() {
  const from = usePortPick((s) => s.from);
  const close = useUi((s) => s.closeDialog);
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const all = useMemo(() => (from ? candidates(from) : []), [from]);
  const q = query.trim().toLowerCase();
  const list = all.filter((c) => c.text.toLowerCase().includes(q));
  if (!from) return null;
  const what = from.type === "source" ? "an input port to feed" : "an output port to read";

  const pick = (c: Candidate) => {
    close();
    const edge =
      from.type === "source"
        ? { source: from.node, sourceHandle: from.handle, target: c.node, targetHandle: c.port }
        : { source: c.node, sourceHandle: c.port, target: from.node, targetHandle: from.handle };
    const refusal = connectSmart(edge);
    const ui = useUi.getState();
    if (refusal) ui.notify("error", refusal);
    else
      ui.notify(
        "info",
        `Connected ${edge.source}.${edge.sourceHandle} → ${edge.target}.${edge.targetHandle}`,
      );
    // Back to the port the connection started from.
    const kind = from.type === "source" ? "out" : "in";
    focusWhenDrawn(`[data-testid="port-${from.node}-${kind}-${from.handle}"]`);
  };

  return (
    <Modal title={`Connect ${from.node}.${from.handle ?? ""} to ${what}`} testid="port-picker">
      <input
        className="quick-input"
        data-testid="port-picker-input"
        aria-label="Filter ports"
        placeholder="Type a node or port name…"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") setActive((a) => Math.min(a + 1, list.length - 1));
          else if (e.key === "ArrowUp") setActive((a) => Math.max(a - 1, 0));
          else if (e.key === "Enter" && list[active]) pick(list[active]);
          else return;
          e.preventDefault();
        }}
      />
      {list.length === 0 && <p className="muted">No port to connect to.</p>}
      <ul className="pick-list compact">
        {list.map((c, i) => (
          <li key={`${c.node}:${c.port}`}>
            <button
              type="button"
              className={i === active ? "is-active" : ""}
              data-testid={`port-pick-${c.node}-${c.port}`}
              onMouseEnter={() => setActive(i)}
              onClick={() => pick(c)}
            >
              <b>{c.text}</b>
              {c.taken && <span className="muted">replaces its link</span>}
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}
