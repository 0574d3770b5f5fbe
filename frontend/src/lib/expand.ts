import { docToFlow, type FlowEdge, flowToDoc, makeEdge, type OpIndex, type OpNode } from "./doc";
import {
  editDocToModule,
  IN_OP,
  type ModuleDef,
  type Modules,
  moduleOfOp,
  moduleToEditDoc,
} from "./modules";

/**
 * Module instances expanded in place (README "Modules").
 *
 * An expanded instance is a React Flow group (sub-flow): its definition's blocks, with the
 * module's inputs and outputs as `@in`/`@out` blocks, are real canvas nodes whose `parentId`
 * is the instance, with ids in the document's addressing (`b1/l`). They are a *view* of the
 * definition: drawn from `modules` (`unfold`) and, after an edit among them, written back
 * to it (`fold`), so every other instance follows and the saved document (`topLevel`)
 * never holds them.
 */

/** room inside a group: the left margin, and the title bar above its blocks */
export const PAD = { x: 24, y: 64 };
/** room left under a group's blocks, to drop a new one there */
const ROOM = 80;
/** an inner block's size until React Flow has measured it */
const BLOCK = { w: 170, h: 90 };
/** the smallest group: its title bar and buttons */
const MIN = { w: 240, h: 140 };
/** modules nest; a definition that (wrongly) holds itself is drawn this deep at most */
const MAX_DEPTH = 8;

export type Drawn = { nodes: OpNode[]; edges: FlowEdge[] };
export type Expanded = Readonly<Record<string, true>>;

export const innerId = (group: string, local: string) => `${group}/${local}`;
const localOf = (group: string, id: string) => id.slice(group.length + 1);

/** The canvas's own nodes and wires: never the insides of expanded instances. */
export function topLevel(nodes: readonly OpNode[], edges: readonly FlowEdge[]): Drawn {
  const inner = new Set(nodes.filter((n) => n.parentId).map((n) => n.id));
  if (inner.size === 0) return { nodes: nodes as OpNode[], edges: edges as FlowEdge[] };
  return {
    nodes: nodes.filter((n) => !n.parentId),
    edges: edges.filter((e) => !inner.has(e.source) && !inner.has(e.target)),
  };
}

/** Where a node is on the canvas (a child's `position` is relative to its group). */
export function absolutePosition(node: OpNode, nodes: readonly OpNode[]): { x: number; y: number } {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  let { x, y } = node.position;
  let up = node.parentId ? byId.get(node.parentId) : undefined;
  for (let depth = 0; up && depth < MAX_DEPTH * 2; depth++) {
    x += up.position.x;
    y += up.position.y;
    up = up.parentId ? byId.get(up.parentId) : undefined;
  }
  return { x, y };
}

/** The innermost expanded group under canvas point `p`, if any. */
export function groupAt(nodes: readonly OpNode[], p: { x: number; y: number }): OpNode | null {
  let hit: OpNode | null = null;
  for (const n of nodes) {
    const w = n.style?.width;
    const h = n.style?.height;
    if (typeof w !== "number" || typeof h !== "number") continue;
    const a = absolutePosition(n, nodes);
    // later in the array is deeper: a nested group comes after its parent
    if (p.x >= a.x && p.x <= a.x + w && p.y >= a.y + PAD.y / 2 && p.y <= a.y + h) hit = n;
  }
  return hit;
}

/** The definition as drawn inside `group`: its children and the wires between them. */
function foldGroup(
  group: string,
  module: string,
  nodes: readonly OpNode[],
  edges: readonly FlowEdge[],
  ops: OpIndex,
): ModuleDef {
  const kids = nodes.filter((n) => n.parentId === group);
  const ids = new Set(kids.map((n) => n.id));
  const local: OpNode[] = kids.map((n) => ({
    id: localOf(group, n.id),
    type: "op",
    data: n.data,
    position: { x: n.position.x - PAD.x, y: n.position.y - PAD.y },
  }));
  const wires = edges
    .filter((e) => ids.has(e.source) && ids.has(e.target) && e.targetHandle)
    .map((e) =>
      makeEdge(
        localOf(group, e.source),
        e.sourceHandle ?? null,
        localOf(group, e.target),
        e.targetHandle as string,
      ),
    );
  return editDocToModule(flowToDoc({ name: module }, local, wires, ops));
}

/** The children of `group` drawn from `def` (selection and measured sizes kept by id). */
function unfoldGroup(
  group: string,
  module: string,
  def: ModuleDef,
  ops: OpIndex,
  prev: ReadonlyMap<string, OpNode>,
  prevEdges: ReadonlyMap<string, FlowEdge>,
): Drawn {
  const flow = docToFlow(moduleToEditDoc(module, def), ops);
  // a definition drawn left of or above its origin still starts inside the group
  const x0 = Math.min(0, ...flow.nodes.map((n) => n.position.x));
  const y0 = Math.min(0, ...flow.nodes.map((n) => n.position.y));
  const nodes = flow.nodes.map((n): OpNode => {
    const id = innerId(group, n.id);
    const old = prev.get(id);
    return {
      ...n,
      id,
      parentId: group,
      extent: "parent",
      position: { x: n.position.x - x0 + PAD.x, y: n.position.y - y0 + PAD.y },
      ...(old?.selected ? { selected: true } : {}),
      ...(old?.measured ? { measured: old.measured } : {}),
    };
  });
  const edges = flow.edges.map((e) => {
    const edge = makeEdge(
      innerId(group, e.source),
      e.sourceHandle ?? null,
      innerId(group, e.target),
      e.targetHandle as string,
    );
    return prevEdges.get(edge.id)?.selected ? { ...edge, selected: true } : edge;
  });
  return { nodes, edges };
}

/** Writes edits made inside expanded instances back to their modules. A group whose children
 * differ from what its module draws holds an edit; the others are left alone, so one edited
 * instance is never overwritten by another, unedited one. Deepest groups first. */
export function fold(
  nodes: readonly OpNode[],
  edges: readonly FlowEdge[],
  modules: Modules,
  ops: OpIndex,
): Modules {
  const parents = new Set(nodes.flatMap((n) => (n.parentId ? [n.parentId] : [])));
  if (parents.size === 0) return modules;
  const depth = (id: string) => id.split("/").length;
  const groups = nodes.filter((n) => parents.has(n.id)).sort((a, b) => depth(b.id) - depth(a.id));
  let out = modules;
  for (const g of groups) {
    const module = moduleOfOp(g.data.op);
    const def = module === null ? undefined : modules[module];
    if (module === null || !def) continue;
    const drawn = foldGroup(g.id, module, nodes, edges, ops);
    const fresh = unfoldGroup(g.id, module, def, ops, new Map(), new Map());
    const canon = foldGroup(g.id, module, fresh.nodes, fresh.edges, ops);
    if (JSON.stringify(drawn) !== JSON.stringify(canon)) out = { ...out, [module]: drawn };
  }
  return out;
}

/** The canvas with every expanded instance drawn open: `top` (the document's own nodes)
 * with, right after each open instance, its definition's blocks (so React Flow meets a group
 * before its children, and Tab goes through a group's blocks before the next block of the
 * graph); groups sized to hold them. */
export function unfold(
  top: Drawn,
  modules: Modules,
  expanded: Expanded,
  ops: OpIndex,
  prev: Drawn = top,
): Drawn {
  const prevNodes = new Map(prev.nodes.map((n) => [n.id, n]));
  const prevEdges = new Map(prev.edges.map((e) => [e.id, e]));
  const nodes: OpNode[] = [];
  const edges: FlowEdge[] = [...top.edges];
  // depth first, with an explicit stack: each entry a node to place and the modules it is in
  const todo = [...top.nodes].reverse().map((node) => ({ node, within: [] as string[] }));
  for (let item = todo.pop(); item; item = todo.pop()) {
    const { node, within } = item;
    const module = moduleOfOp(node.data.op);
    const open =
      module !== null &&
      !!expanded[node.id] &&
      !!modules[module] &&
      !within.includes(module) &&
      within.length < MAX_DEPTH;
    if (!open) {
      nodes.push(closed(node));
      continue;
    }
    nodes.push({ ...node, style: { ...node.style, width: MIN.w, height: MIN.h } });
    const inside = unfoldGroup(node.id, module, modules[module], ops, prevNodes, prevEdges);
    edges.push(...inside.edges);
    const deeper = [...within, module];
    for (const kid of [...inside.nodes].reverse()) todo.push({ node: kid, within: deeper });
  }
  return { nodes: fitGroups(nodes), edges };
}

/** An instance drawn closed: no group size of its own. */
function closed(n: OpNode): OpNode {
  if (n.style?.width === undefined && n.style?.height === undefined) return n;
  const { width: _w, height: _h, ...style } = n.style ?? {};
  return { ...n, style };
}

/** a group's size is the one it is given; a block's, the one React Flow measured */
const sizeOf = (n: OpNode) => ({
  w: typeof n.style?.width === "number" ? n.style.width : (n.measured?.width ?? BLOCK.w),
  h: typeof n.style?.height === "number" ? n.style.height : (n.measured?.height ?? BLOCK.h),
});

/** Sizes every group to hold its children (deepest first, so a nested group's size is known
 * before its parent's). Returns `nodes` itself when no size changed. */
export function fitGroups(nodes: readonly OpNode[]): OpNode[] {
  const kids = new Map<string, OpNode[]>();
  for (const n of nodes) if (n.parentId) kids.set(n.parentId, [...(kids.get(n.parentId) ?? []), n]);
  if (kids.size === 0) return nodes as OpNode[];
  const out = [...nodes];
  const index = new Map(out.map((n, i) => [n.id, i]));
  let changed = false;
  for (let i = out.length - 1; i >= 0; i--) {
    const inside = kids.get(out[i].id)?.map((k) => out[index.get(k.id) ?? 0]);
    if (!inside) continue;
    const w = Math.max(MIN.w, ...inside.map((k) => k.position.x + sizeOf(k).w)) + PAD.x;
    const h = Math.max(MIN.h, ...inside.map((k) => k.position.y + sizeOf(k).h)) + ROOM;
    const g = out[i];
    if (g.style?.width === w && g.style?.height === h) continue;
    out[i] = { ...g, style: { ...g.style, width: w, height: h } };
    changed = true;
  }
  return changed ? out : (nodes as OpNode[]);
}

/** Links to instance ports that no longer exist (a module lost an input or an output). */
export function dropStalePorts(
  nodes: readonly OpNode[],
  edges: readonly FlowEdge[],
  ops: OpIndex,
): FlowEdge[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const has = (id: string, side: "inputs" | "outputs", port: string | null | undefined) => {
    const n = byId.get(id);
    if (!n || moduleOfOp(n.data.op) === null) return true; // only modules' ports change
    return (ops[n.data.op]?.[side] ?? []).some((p) => p.name === port);
  };
  const kept = edges.filter(
    (e) =>
      has(e.target, "inputs", e.targetHandle) &&
      (e.sourceHandle == null || has(e.source, "outputs", e.sourceHandle)),
  );
  return kept.length === edges.length ? (edges as FlowEdge[]) : kept;
}

export interface Settled extends Drawn {
  modules: Modules;
  ops: OpIndex;
}

/** After an edit of the canvas: edits inside open instances go to their modules, then
 * every open instance is drawn again from its (maybe new) module, and links to ports a
 * module no longer has are dropped. */
export function settle(
  drawn: Drawn,
  modules: Modules,
  ops: OpIndex,
  expanded: Expanded,
  opsFor: (modules: Modules) => OpIndex,
): Settled {
  const folded = fold(drawn.nodes, drawn.edges, modules, ops);
  const next = folded === modules ? ops : opsFor(folded);
  const top = topLevel(drawn.nodes, drawn.edges);
  const open = unfold(top, folded, expanded, next, drawn);
  const edges = folded === modules ? open.edges : dropStalePorts(open.nodes, open.edges, next);
  return { nodes: open.nodes, edges, modules: folded, ops: next };
}

/** Shapes for the module inputs drawn inside open instances (`b1/x`, an `@in` block): the
 * shape of what feeds the instance's port, so the wires out of them are labelled too. */
export function innerInputShapes(
  nodes: readonly OpNode[],
  edges: readonly FlowEdge[],
  shapes: Readonly<Record<string, number[]>>,
): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const n of nodes) {
    if (!n.parentId || n.data.op !== IN_OP) continue;
    const port = localOf(n.parentId, n.id);
    const e = edges.find((w) => w.target === n.parentId && w.targetHandle === port);
    if (!e) continue;
    // a nested group's input may be fed by its parent's: found above, earlier in the array
    const shape = shapes[`${e.source}:${e.sourceHandle}`] ?? shapes[e.source] ?? out[e.source];
    if (shape) out[n.id] = shape;
  }
  return out;
}

type Box = { x: number; y: number; w: number; h: number };
const boxOf = (n: OpNode): Box => ({ ...n.position, ...sizeOf(n) });
const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Room for instance `id` just opened (it was `closed` big): when the open group covers
 * other blocks of the graph, the blocks right of its middle move right by what it grew, and
 * those under it move down, so the drawing keeps its order and nothing hides under the group.
 * Returns `nodes` itself when nothing is covered. */
export function makeRoom(
  nodes: readonly OpNode[],
  id: string,
  closed: { width: number; height: number },
): OpNode[] {
  const g = nodes.find((n) => n.id === id);
  if (!g || g.parentId) return nodes as OpNode[];
  const open = boxOf(g);
  const others = nodes.filter((n) => !n.parentId && n.id !== id);
  if (!others.some((n) => overlaps(boxOf(n), open))) return nodes as OpNode[];
  const dx = Math.max(0, open.w - closed.width) + PAD.x;
  const dy = Math.max(0, open.h - closed.height) + PAD.x;
  const middle = open.x + closed.width / 2;
  return nodes.map((n) => {
    if (n.parentId || n.id === id) return n;
    const b = boxOf(n);
    if (b.x >= middle) return { ...n, position: { x: n.position.x + dx, y: n.position.y } };
    if (b.y >= open.y + closed.height / 2 && b.x + b.w > open.x)
      return { ...n, position: { x: n.position.x, y: n.position.y + dy } };
    return n;
  });
}
