import type { OpIndex, OpNode } from "../lib/doc";
import { groupAt, settle, topLevel, unfold } from "../lib/expand";
import { type Modules, moduleOfOp, moduleSpecs } from "../lib/modules";
import { notationOf } from "../lib/notation";
import type { EditorState, Snapshot } from "./editorTypes";

/* The editor store's helpers for module instances open in place (lib/expand.ts): what a
 * commit does when one is open, where a dropped block lands, which wires may be drawn. */

/** a dropped block's point that says which group it lands in: about its middle */
const DROP_POINT = { x: 60, y: 28 };

/** The canvas after an edit, when an instance is open: its inner edits written to the module,
 * every open instance drawn again (lib/expand `settle`). Nothing to do while none is open. */
export function settled(s: EditorState, patch: Partial<EditorState>): Partial<EditorState> {
  if (!patch.nodes && !patch.edges && !patch.modules && !patch.expanded) return {};
  const expanded = patch.expanded ?? s.expanded;
  const nodes = patch.nodes ?? s.nodes;
  if (Object.keys(expanded).length === 0 && !nodes.some((n) => n.parentId)) return {};
  const modules = patch.modules ?? s.modules;
  const ops = patch.ops ?? (patch.modules ? withModules(s.baseOps, modules) : s.ops);
  return settle({ nodes, edges: patch.edges ?? s.edges }, modules, ops, expanded, (m) =>
    withModules(s.baseOps, m),
  );
}

/** A restored (or re-opened) canvas drawn with the instances open now: no edit to fold. */
export function redrawn(
  s: EditorState,
  doc: Pick<Snapshot, "nodes" | "edges" | "modules">,
  expanded = s.expanded,
): Pick<EditorState, "nodes" | "edges" | "ops"> {
  const ops = doc.modules === s.modules ? s.ops : withModules(s.baseOps, doc.modules);
  const open = unfold(topLevel(doc.nodes, doc.edges), doc.modules, expanded, ops, doc);
  return { ...open, ops };
}

/** Wires stay on their side of a group's border: outside, they go to the block's ports. */
export function crossesGroup(
  nodes: readonly OpNode[],
  source: string,
  target: string,
): string | null {
  const parent = (id: string) => nodes.find((n) => n.id === id)?.parentId;
  if (parent(source) === parent(target)) return null;
  return "A wire stays on its side of a module block's border: inside, between its blocks; outside, to its ports.";
}

/** The open instance a block added at `position` lands in, if any: not an observed variable
 * (those stay outside modules) nor an instance of a module it would then hold. */
export function groupFor(s: EditorState, op: string, position: { x: number; y: number }) {
  const group = groupAt(s.nodes, { x: position.x + DROP_POINT.x, y: position.y + DROP_POINT.y });
  if (!group || notationOf(s.ops[op]) === "observed") return null;
  const inside = moduleOfOp(op);
  if (inside !== null) {
    const byId = new Map(s.nodes.map((n) => [n.id, n]));
    for (let g: OpNode | undefined = group; g; g = g.parentId ? byId.get(g.parentId) : undefined)
      if (moduleOfOp(g.data.op) === inside) return null;
  }
  return group;
}

export const localIds = (nodes: readonly OpNode[], group: string) =>
  new Set(nodes.filter((n) => n.parentId === group).map((n) => n.id.slice(group.length + 1)));

/** State after renaming inner block `from` of an open instance's module to `to`: every
 * top-level instance of the module keeps its parameters (`b1/from` → `b1/to`, `b2/…`). */
export function renameInner(s: EditorState, group: string, from: string, to: string) {
  const op = s.nodes.find((n) => n.id === group)?.data.op;
  let state = s.state ?? {};
  for (const n of s.nodes)
    if (!n.parentId && n.data.op === op)
      state = renameKey(state, `${n.id}/${from}`, `${n.id}/${to}`);
  return state;
}

/** The registry's ops plus the canvas's module ops. */
export function withModules(base: OpIndex, modules: Modules): OpIndex {
  return { ...base, ...moduleSpecs(modules) };
}

export function renameKey<T>(rec: Record<string, T>, from: string, to: string): Record<string, T> {
  const key = (k: string) =>
    k === from ? to : k.startsWith(`${from}/`) ? `${to}${k.slice(from.length)}` : k;
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [key(k), v]));
}
