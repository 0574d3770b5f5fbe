import { type DragEvent, useMemo, useState } from "react";
import type { OpSpec } from "../api/types";
import { OP_MIME, useAddOp } from "../flow/placement";
import { IN_OP, instanceOp, OUT_OP } from "../lib/modules";
import { CATEGORY_TITLES, notationOf } from "../lib/notation";
import { useEditor } from "../store/editor";
import { Glyph } from "./Glyph";

const CATEGORY_ORDER = ["variable", "function", "cost"];

export function matchOps(ops: readonly OpSpec[], query: string): OpSpec[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...ops];
  const score = (o: OpSpec) => {
    const name = o.name.toLowerCase();
    const label = o.label.toLowerCase();
    if (name === q || label === q) return 0;
    if (name.startsWith(q) || label.startsWith(q)) return 1;
    if (name.includes(q) || label.includes(q)) return 2;
    return o.doc?.toLowerCase().includes(q) ? 3 : 9;
  };
  return ops
    .map((o) => [score(o), o] as const)
    .filter(([s]) => s < 9)
    .sort((a, b) => a[0] - b[0])
    .map(([, o]) => o);
}

/** Ops grouped by category (variables, functions, costs, then any category the server adds). */
function groupOps(ops: readonly OpSpec[]): [string, OpSpec[]][] {
  const groups = new Map<string, OpSpec[]>();
  for (const o of ops) groups.set(o.category, [...(groups.get(o.category) ?? []), o]);
  const rank = (c: string) => (CATEGORY_ORDER.includes(c) ? CATEGORY_ORDER.indexOf(c) : 99);
  return [...groups.entries()].sort((a, b) => rank(a[0]) - rank(b[0]));
}

export function Palette() {
  const opList = useEditor((s) => s.opList);
  const status = useEditor((s) => s.opsStatus);
  const [query, setQuery] = useState("");
  const addOp = useAddOp();
  const groups = useMemo(() => groupOps(matchOps(opList, query)), [opList, query]);
  // the graph's modules, to use again (not the one being edited: it cannot hold itself)
  const ops = useEditor((s) => s.ops);
  const editing = useEditor((s) => s.editing?.module);
  const moduleNames = useEditor((s) => Object.keys(s.modules).join("\n"));
  const modules = useMemo(
    () =>
      matchOps(
        [
          // while a module is edited: its ports, then the other modules
          ...(editing ? [IN_OP, OUT_OP] : []),
          ...moduleNames
            .split("\n")
            .filter((m) => m && m !== editing)
            .map(instanceOp),
        ]
          .map((op) => ops[op])
          .filter((o): o is OpSpec => !!o),
        query,
      ),
    [moduleNames, editing, ops, query],
  );

  const onDragStart = (e: DragEvent, op: string) => {
    e.dataTransfer.setData(OP_MIME, op);
    e.dataTransfer.effectAllowed = "copy";
  };

  return (
    <div className="palette-inner">
      <input
        className="palette-search nodrag"
        data-testid="palette-search"
        type="search"
        placeholder="Search ops…"
        aria-label="Search ops"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      {status === "loading" && <p className="muted">Loading ops…</p>}
      {status === "error" && <p className="error-text">The op catalogue could not be loaded.</p>}
      {status === "ready" && groups.length === 0 && (
        <p className="muted">No op matches “{query}”.</p>
      )}
      {[...groups, ...(modules.length ? [["module", modules] as [string, OpSpec[]]] : [])].map(
        ([category, ops]) => (
          <section
            key={category}
            className="palette-group"
            data-testid={`palette-group-${category}`}
          >
            <h3>{CATEGORY_TITLES[category] ?? category}</h3>
            {ops.map((o) => (
              <button
                type="button"
                key={o.name}
                className="palette-item"
                data-testid={`palette-${o.name}`}
                data-op={o.name}
                draggable
                onDragStart={(e) => onDragStart(e, o.name)}
                onClick={() => addOp(o.name)}
                title={`${o.label} (${o.name})\n\n${o.doc}\n\nDrag onto the canvas, or click to add.`}
              >
                <Glyph notation={notationOf(o)} />
                <span className="palette-label">{o.label}</span>
                <span className="palette-name">{o.name}</span>
              </button>
            ))}
          </section>
        ),
      )}
    </div>
  );
}
