import { applyEdgeChanges, applyNodeChanges } from "@xyflow/react";
import { create } from "zustand";
import type { ParamValue, ValidateResult } from "../api/types";
import { type Fragment, placeCopy, selectedFragment } from "../lib/clipboard";
import { cycleClosedBy, cycleMessage } from "../lib/cycle";
import { docToFlow, flowToDoc, formatRef, makeEdge, type OpNode } from "../lib/doc";
import {
  absolutePosition,
  dropStalePorts,
  fitGroups,
  innerId,
  innerInputShapes,
  makeRoom,
  topLevel,
  unfold,
} from "../lib/expand";
import { freshId, ID_PATTERN } from "../lib/ids";
import {
  editDocToModule,
  idStem,
  instanceOp,
  instanceShapes,
  type Modules,
  makeBlock,
  moduleOfOp,
  moduleSpecs,
  moduleToEditDoc,
  renameInModules,
  scopeValidation,
} from "../lib/modules";
import { notationOf } from "../lib/notation";
import { unpackInstance } from "../lib/unpack";
import type { EditorState, Snapshot } from "./editorTypes";
import {
  crossesGroup,
  groupFor,
  localIds,
  redrawn,
  renameInner,
  renameKey,
  settled,
  withModules,
} from "./openInstances";
import { emptyValidation, indexValidation } from "./validation";

export type { EditorState, LoadOptions, Snapshot } from "./editorTypes";
export type { Validation, ValidationStatus } from "./validation";

const HISTORY_LIMIT = 200;
const PASTE_OFFSET = 40;

export const useEditor = create<EditorState>()((set, get) => {
  /** Applies a document change: optionally records an undo step first, bumps the revision.
   * An edit inside an open module instance is written to its module (`settled`). */
  const commit = (patch: Partial<EditorState>, key: string | null = null) => {
    const s = get();
    const record = key === null || key !== s.coalesceKey;
    set({
      ...(record
        ? {
            past: [...s.past, snap(s)].slice(-HISTORY_LIMIT),
            future: [],
          }
        : {}),
      coalesceKey: key,
      ...patch,
      ...settled(s, patch),
      revision: s.revision + 1,
    });
  };

  const pasteNodes = (clip: Fragment, offset: number): number => {
    const s = get();
    const { nodes, edges } = placeCopy(clip, new Set(s.nodes.map((n) => n.id)), offset);
    commit({
      nodes: [...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), ...nodes],
      edges: [...s.edges.map((e) => (e.selected ? { ...e, selected: false } : e)), ...edges],
    });
    return nodes.length;
  };

  return {
    ops: moduleSpecs({}),
    baseOps: {},
    modules: {},
    editing: null,
    expanded: {},
    opList: [],
    opsStatus: "loading",
    name: "untitled",
    nodes: [],
    edges: [],
    description: "",
    state: undefined,
    normalization: undefined,
    graphId: null,
    graphRevision: null,
    loadSeq: 0,
    revision: 0,
    savedRevision: 0,
    past: [],
    future: [],
    coalesceKey: null,
    clipboard: null,
    validation: emptyValidation(),

    setOps: (list) => {
      const baseOps = Object.fromEntries(list.map((o) => [o.name, o]));
      set({ opList: list, baseOps, ops: withModules(baseOps, get().modules), opsStatus: "ready" });
    },
    setOpsFailed: () => set({ opsStatus: "error" }),

    onNodesChange: (changes) => {
      const s = get();
      const nodes = applyNodeChanges(changes, s.nodes);
      // Selection and measurement are view state; moves count once the drag ends.
      const changesDoc = changes.some(
        (c) =>
          c.type === "remove" ||
          c.type === "add" ||
          c.type === "replace" ||
          (c.type === "position" && !c.dragging),
      );
      if (changesDoc) {
        set({ nodes, ...settled(s, { nodes }), revision: s.revision + 1, coalesceKey: null });
        return;
      }
      // an inner block measured (or resized): its group grows to hold it
      // (only inner blocks have ids with '/': `b1/l`)
      const inner = changes.some((c) => c.type === "dimensions" && c.id.includes("/"));
      set({ nodes: inner ? fitGroups(nodes) : nodes });
    },

    onEdgesChange: (changes) => {
      const s = get();
      const edges = applyEdgeChanges(changes, s.edges);
      const changesDoc = changes.some((c) => c.type !== "select");
      set(
        changesDoc
          ? { edges, ...settled(s, { edges }), revision: s.revision + 1, coalesceKey: null }
          : { edges },
      );
    },

    checkpoint: (key) => {
      const s = get();
      if (key && key === s.coalesceKey) return;
      set({
        past: [...s.past, snap(s)].slice(-HISTORY_LIMIT),
        future: [],
        coalesceKey: key ?? null,
      });
    },

    connect: (c) => {
      const s = get();
      if (!c.source || !c.target || !c.targetHandle)
        return "Connect an output port to an input port.";
      const across = crossesGroup(s.nodes, c.source, c.target);
      if (across) return across;
      const cycle = cycleClosedBy(s.edges, c.source, c.target);
      if (cycle) return cycleMessage(cycle);
      const edge = makeEdge(c.source, c.sourceHandle ?? null, c.target, c.targetHandle);
      // A port takes at most one source: the new link replaces the old one.
      commit({ edges: [...s.edges.filter((e) => e.id !== edge.id), edge] });
      return null;
    },

    reconnect: (old, c) => {
      const s = get();
      if (!c.source || !c.target || !c.targetHandle)
        return "Connect an output port to an input port.";
      const across = crossesGroup(s.nodes, c.source, c.target);
      if (across) return across;
      const rest = s.edges.filter((e) => e.id !== old.id);
      const cycle = cycleClosedBy(rest, c.source, c.target);
      if (cycle) return cycleMessage(cycle);
      const edge = makeEdge(c.source, c.sourceHandle ?? null, c.target, c.targetHandle);
      commit({ edges: [...rest.filter((e) => e.id !== edge.id), edge] });
      return null;
    },

    removeEdge: (id) => {
      const s = get();
      if (!s.edges.some((e) => e.id === id)) return;
      commit({ edges: s.edges.filter((e) => e.id !== id) });
    },

    addNode: (op, position, overrides = {}) => {
      const s = get();
      const spec = s.ops[op];
      if (!spec) return null;
      const group = groupFor(s, op, position);
      const id = group
        ? innerId(group.id, freshId(idStem(op), localIds(s.nodes, group.id)))
        : freshId(idStem(op), new Set(s.nodes.map((n) => n.id)));
      const params: Record<string, ParamValue> = {};
      // Defaults are written out so the exported document says what the node does.
      for (const p of spec.params) {
        if (p.default !== undefined && p.default !== null)
          params[p.name] = structuredClone(p.default);
      }
      Object.assign(params, structuredClone(overrides));
      const node: OpNode = { id, type: "op", position, data: { op, params }, selected: true };
      if (group) {
        // dropped into an open instance: a block of its module, placed relative to the group
        const at = absolutePosition(group, s.nodes);
        Object.assign(node, {
          parentId: group.id,
          extent: "parent",
          position: { x: Math.max(0, position.x - at.x), y: Math.max(0, position.y - at.y) },
        });
      }
      commit({
        nodes: [...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node],
        edges: s.edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
      });
      return id;
    },

    setParam: (id, name, value) => {
      const s = get();
      const nodes = s.nodes.map((n) => {
        if (n.id !== id) return n;
        const params = { ...n.data.params };
        if (value === undefined) delete params[name];
        else params[name] = value;
        return { ...n, data: { ...n.data, params } };
      });
      commit({ nodes }, `param:${id}:${name}`);
    },

    setParams: (id, patch) => {
      const s = get();
      const nodes = s.nodes.map((n) =>
        n.id === id ? { ...n, data: { ...n.data, params: { ...n.data.params, ...patch } } } : n,
      );
      commit({ nodes });
    },

    renameNode: (id, wanted) => {
      const s = get();
      // an inner block of an open instance is renamed in its module: `b1/l` → `b1/<name>`
      const group = s.nodes.find((n) => n.id === id)?.parentId;
      const name =
        group && wanted.startsWith(`${group}/`) ? wanted.slice(group.length + 1) : wanted;
      const next = group ? innerId(group, name) : name;
      if (next === id) return null;
      if (!ID_PATTERN.test(name)) return "Ids use letters, digits, '_' and '-' (at most 64).";
      if (s.nodes.some((n) => n.id === next)) return `There is already a node called ${next}.`;
      const nodes = s.nodes.map((n) => (n.id === id ? { ...n, id: next } : n));
      const edges = s.edges.map((e) => {
        if (e.source !== id && e.target !== id) return e;
        const source = e.source === id ? next : e.source;
        const target = e.target === id ? next : e.target;
        return {
          ...makeEdge(source, e.sourceHandle ?? null, target, e.targetHandle as string),
          selected: e.selected,
        };
      });
      // an instance's parameters are its inner nodes': `id/l` becomes `next/l`
      const state = s.state
        ? group
          ? renameInner(s, group, id.slice(group.length + 1), name)
          : renameKey(s.state, id, next)
        : s.state;
      const expanded = { ...s.expanded };
      if (expanded[id]) {
        delete expanded[id];
        expanded[next] = true;
      }
      commit({ nodes, edges, state, expanded });
      return null;
    },

    setName: (name) => commit({ name }, "name"),

    deleteSelected: () => {
      const s = get();
      const gone = new Set(s.nodes.filter((n) => n.selected).map((n) => n.id));
      const edges = s.edges.filter(
        (e) => !e.selected && !gone.has(e.source) && !gone.has(e.target),
      );
      if (gone.size === 0 && edges.length === s.edges.length) return;
      commit({ nodes: s.nodes.filter((n) => !gone.has(n.id)), edges });
    },

    selectOnly: (ids) => {
      const want = new Set(ids);
      set((s) => ({
        nodes: s.nodes.map((n) =>
          !!n.selected === want.has(n.id) ? n : { ...n, selected: want.has(n.id) },
        ),
        edges: s.edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
      }));
    },

    selectAll: () =>
      set((s) => ({ nodes: s.nodes.map((n) => (n.selected ? n : { ...n, selected: true })) })),

    copy: () => {
      const top = topLevel(get().nodes, get().edges);
      const sel = selectedFragment(top.nodes, top.edges);
      if (sel.nodes.length > 0) set({ clipboard: sel });
      return sel.nodes.length;
    },

    paste: () => {
      const clip = get().clipboard;
      if (!clip) return 0;
      const n = pasteNodes(clip, PASTE_OFFSET);
      // Shift the clipboard too, so pasting again does not stack copies on one spot.
      set({
        clipboard: {
          nodes: clip.nodes.map((c) => ({
            ...c,
            position: { x: c.position.x + PASTE_OFFSET, y: c.position.y + PASTE_OFFSET },
          })),
          edges: clip.edges,
        },
      });
      return n;
    },

    duplicate: () => {
      const top = topLevel(get().nodes, get().edges);
      const sel = selectedFragment(top.nodes, top.edges);
      return sel.nodes.length ? pasteNodes(sel, PASTE_OFFSET) : 0;
    },

    undo: () => {
      const s = get();
      const prev = s.past.at(-1);
      if (!prev) return;
      set({
        ...prev,
        ...redrawn(s, prev),
        past: s.past.slice(0, -1),
        future: [...s.future, snap(s)],
        coalesceKey: null,
        revision: s.revision + 1,
      });
    },

    redo: () => {
      const s = get();
      const next = s.future.at(-1);
      if (!next) return;
      set({
        ...next,
        ...redrawn(s, next),
        future: s.future.slice(0, -1),
        past: [...s.past, snap(s)],
        coalesceKey: null,
        revision: s.revision + 1,
      });
    },

    applyPositions: (positions) => {
      const s = get();
      commit({
        nodes: s.nodes.map((n) => (positions[n.id] ? { ...n, position: positions[n.id] } : n)),
      });
    },

    loadDoc: (doc, opts = {}) => {
      const s = get();
      const modules = (doc.modules ?? {}) as Modules;
      const ops = withModules(s.baseOps, modules);
      const { nodes, edges, dangling } = docToFlow(doc, ops);
      const revision = s.revision + 1;
      set({
        modules,
        ops,
        editing: null,
        expanded: {},
        name: doc.name || "untitled",
        description: doc.description ?? "",
        nodes,
        edges,
        state: doc.state ?? undefined,
        normalization: doc.normalization ?? undefined,
        graphId: opts.graphId ?? null,
        graphRevision: opts.graphRevision ?? null,
        loadSeq: s.loadSeq + 1,
        revision,
        // A restored draft may hold changes the server has not seen.
        savedRevision: opts.dirty ? -1 : revision,
        past: [],
        future: [],
        coalesceKey: null,
        validation: emptyValidation(nodes.length ? "pending" : "empty"),
      });
      return dangling;
    },

    newGraph: () => {
      get().loadDoc({ version: 1, name: "untitled", nodes: [] });
    },

    touch: () => set((s) => ({ revision: s.revision + 1 })),

    markSaved: (graphId, graphRevision = null) =>
      set((s) => ({ graphId, graphRevision, savedRevision: s.revision })),

    setDescription: (description) => commit({ description }, "description"),

    setValidation: (v, message) => {
      if (typeof v === "string") {
        set((s) => ({
          validation:
            v === "pending"
              ? { ...s.validation, status: "pending" }
              : { ...emptyValidation(v), message },
        }));
        return;
      }
      const s = get();
      const seen = validationInside(s, v);
      const instances = s.nodes.flatMap((n) => {
        const module = moduleOfOp(n.data.op);
        return module === null ? [] : [{ id: n.id, module }];
      });
      const aliases = instanceShapes(s.modules, instances, seen.shapes);
      const known = { ...seen.shapes, ...aliases };
      const inputs = innerInputShapes(s.nodes, s.edges, known);
      set({ validation: indexValidation({ ...seen, shapes: { ...known, ...inputs } }) });
    },

    toDoc: () => {
      const s = get();
      const meta = {
        name: s.name,
        description: s.description,
        state: s.state,
        normalization: s.normalization,
      };
      const top = topLevel(s.nodes, s.edges);
      if (!s.editing)
        return flowToDoc({ ...meta, modules: s.modules }, top.nodes, top.edges, s.ops);
      // the module on the canvas goes back into its place: the graph is whole again
      const def = editDocToModule(flowToDoc(meta, top.nodes, top.edges, s.ops));
      const modules = { ...s.modules, [s.editing.module]: def };
      return flowToDoc({ ...meta, modules }, s.editing.nodes, s.editing.edges, s.ops);
    },

    makeBlock: () => {
      const s = get();
      const top = topLevel(s.nodes, s.edges);
      const selected = top.nodes.filter((n) => n.selected).map((n) => n.id);
      const canvas = flowToDoc(
        { name: s.name, state: s.state, modules: s.modules },
        top.nodes,
        top.edges,
        s.ops,
      );
      const observed = (op: string) => notationOf(s.ops[op]) === "observed";
      const made = makeBlock(canvas, selected, observed);
      if (typeof made === "string") return made;
      const modules = (made.doc.modules ?? {}) as Modules;
      const ops = withModules(s.baseOps, modules);
      const { nodes, edges } = docToFlow(made.doc, ops);
      // keep where everything else was drawn, and select the new block
      const where = new Map(s.nodes.map((n) => [n.id, n.position]));
      commit({
        modules,
        ops,
        state: made.doc.state ?? undefined,
        nodes: nodes.map((n) => ({
          ...n,
          position: where.get(n.id) ?? n.position,
          selected: n.id === made.instance,
        })),
        edges,
      });
      return null;
    },

    enterModule: (module) => {
      const s = get();
      if (s.editing) get().leaveModule();
      const t = get();
      const def = t.modules[module];
      if (!def) return;
      const { nodes, edges } = docToFlow(moduleToEditDoc(module, def), t.ops);
      // the graph waits as saved (insides of open instances are drawn again on the way back)
      const top = topLevel(t.nodes, t.edges);
      set({
        editing: { module, nodes: top.nodes, edges: top.edges, expanded: t.expanded },
        expanded: {},
        nodes,
        edges,
        past: [],
        future: [],
        coalesceKey: null,
        loadSeq: t.loadSeq + 1,
        revision: t.revision + 1,
      });
    },

    leaveModule: () => {
      const s = get();
      if (!s.editing) return;
      const top = topLevel(s.nodes, s.edges);
      const doc = flowToDoc({ name: s.name }, top.nodes, top.edges, s.ops);
      const modules = { ...s.modules, [s.editing.module]: editDocToModule(doc) };
      const ops = withModules(s.baseOps, modules);
      // ports may have changed: drop the links of the graph to ports that are gone
      const kept = dropStalePorts(s.editing.nodes, s.editing.edges, ops);
      const expanded = s.editing.expanded;
      const open = unfold({ nodes: s.editing.nodes, edges: kept }, modules, expanded, ops);
      set({
        modules,
        ops,
        nodes: open.nodes,
        edges: open.edges,
        expanded,
        editing: null,
        past: [],
        future: [],
        coalesceKey: null,
        loadSeq: s.loadSeq + 1,
        revision: s.revision + 1,
      });
    },

    renameModule: (from, to) => {
      const s = get();
      if (from === to) return null;
      if (!ID_PATTERN.test(to))
        return "Module names use letters, digits, '_' and '-' (at most 64).";
      if (s.modules[to]) return `There is already a module called ${to}.`;
      if (!s.modules[from]) return `There is no module called ${from}.`;
      const modules = renameInModules(s.modules, from, to);
      const [a, b] = [instanceOp(from), instanceOp(to)];
      const follow = (nodes: OpNode[]) =>
        nodes.map((n) => (n.data.op === a ? { ...n, data: { ...n.data, op: b } } : n));
      const editing = s.editing && {
        ...s.editing,
        module: s.editing.module === from ? to : s.editing.module,
        nodes: follow(s.editing.nodes),
      };
      commit({ modules, ops: withModules(s.baseOps, modules), nodes: follow(s.nodes), editing });
      return null;
    },

    // Open or closed is a view of the document, not an edit: no undo step, unless opening
    // moves the blocks the group would cover (makeRoom): that move is one.
    toggleExpanded: (id) => {
      const s = get();
      const expanded = { ...s.expanded };
      const opening = !expanded[id];
      if (opening) expanded[id] = true;
      else delete expanded[id];
      const open = redrawn(s, { nodes: s.nodes, edges: s.edges, modules: s.modules }, expanded);
      // the last validation already knows the inner values; the module inputs drawn now
      // read their shapes from what feeds the instance
      const shapes = s.validation.shapes;
      const inputs = innerInputShapes(open.nodes, open.edges, shapes);
      const validation = { ...s.validation, shapes: { ...shapes, ...inputs } };
      const closed = s.nodes.find((n) => n.id === id)?.measured;
      const size = { width: closed?.width ?? 170, height: closed?.height ?? 90 };
      const roomy = opening ? makeRoom(open.nodes, id, size) : open.nodes;
      if (roomy === open.nodes) set({ expanded, ...open, validation });
      else commit({ expanded, ...open, nodes: roomy, validation });
    },

    unpack: (id) => {
      const s = get();
      const top = topLevel(s.nodes, s.edges);
      const picked = top.nodes.filter((n) => n.selected && moduleOfOp(n.data.op) !== null);
      const target = id ?? (picked.length === 1 ? picked[0].id : null);
      if (!target) return "Select one module block to unpack.";
      if (target.includes("/"))
        return `${target} is inside a module: edit the module to unpack it there.`;
      const doc = flowToDoc(
        { name: s.name, state: s.state, modules: s.modules },
        top.nodes,
        top.edges,
        s.ops,
      );
      const out = unpackInstance(doc, target);
      if (typeof out === "string") return out;
      const modules = (out.doc.modules ?? {}) as Modules;
      const ops = withModules(s.baseOps, modules);
      const { nodes, edges } = docToFlow(out.doc, ops);
      const where = new Map(top.nodes.map((n) => [n.id, n.position]));
      const fresh = new Set(out.ids);
      const expanded = { ...s.expanded };
      delete expanded[target];
      commit({
        modules,
        ops,
        expanded,
        state: out.doc.state ?? undefined,
        // everything else stays where it was drawn; the unpacked blocks come selected
        nodes: nodes.map((n) => ({
          ...n,
          position: fresh.has(n.id) ? n.position : (where.get(n.id) ?? n.position),
          selected: fresh.has(n.id),
        })),
        edges,
      });
      return null;
    },
  };
});

function snap(s: EditorState): Snapshot {
  return {
    name: s.name,
    description: s.description,
    nodes: s.nodes,
    edges: s.edges,
    modules: s.modules,
    state: s.state,
  };
}

/** While a module is on the canvas, the graph's validation as seen inside its first
 * instance drawn in the graph (none drawn: nothing is placed on the module's nodes). */
function validationInside(s: EditorState, v: ValidateResult): ValidateResult {
  if (!s.editing) return v;
  const op = instanceOp(s.editing.module);
  const inst = s.editing.nodes.find((n) => n.data.op === op);
  if (!inst) return { ...scopeValidation(v, "\u0000", {}), ok: v.ok };
  const inputs: Record<string, string> = {};
  for (const e of s.editing.edges) {
    if (e.target !== inst.id || !e.targetHandle) continue;
    const src = s.editing.nodes.find((n) => n.id === e.source);
    inputs[e.targetHandle] = formatRef(e.source, e.sourceHandle, s.ops[src?.data.op ?? ""]);
  }
  return scopeValidation(v, inst.id, inputs);
}

// Narrow selectors: components subscribe to the smallest slice they draw.
export const selectDirty = (s: EditorState) => s.revision !== s.savedRevision;
export const selectCanUndo = (s: EditorState) => s.past.length > 0;
export const selectCanRedo = (s: EditorState) => s.future.length > 0;
export const selectSelectedIds = (s: EditorState) =>
  s.nodes
    .filter((n) => n.selected)
    .map((n) => n.id)
    .join(",");
