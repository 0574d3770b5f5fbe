import { applyEdgeChanges, applyNodeChanges } from "@xyflow/react";
import { create } from "zustand";
import type { ParamValue, ValidateResult } from "../api/types";
import { type Fragment, placeCopy, selectedFragment } from "../lib/clipboard";
import { cycleClosedBy, cycleMessage } from "../lib/cycle";
import { docToFlow, flowToDoc, formatRef, makeEdge, type OpIndex, type OpNode } from "../lib/doc";
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
import type { EditorState, Snapshot } from "./editorTypes";
import { emptyValidation, indexValidation } from "./validation";

export type { EditorState, LoadOptions, Snapshot } from "./editorTypes";
export type { Validation, ValidationStatus } from "./validation";

const HISTORY_LIMIT = 200;
const PASTE_OFFSET = 40;

export const useEditor = create<EditorState>()((set, get) => {
  /** Applies a document change: optionally records an undo step first, bumps the revision. */
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
      set(changesDoc ? { nodes, revision: s.revision + 1, coalesceKey: null } : { nodes });
    },

    onEdgesChange: (changes) => {
      const s = get();
      const edges = applyEdgeChanges(changes, s.edges);
      const changesDoc = changes.some((c) => c.type !== "select");
      set(changesDoc ? { edges, revision: s.revision + 1, coalesceKey: null } : { edges });
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
      const id = freshId(idStem(op), new Set(s.nodes.map((n) => n.id)));
      const params: Record<string, ParamValue> = {};
      // Defaults are written out so the exported document says what the node does.
      for (const p of spec.params) {
        if (p.default !== undefined && p.default !== null)
          params[p.name] = structuredClone(p.default);
      }
      Object.assign(params, structuredClone(overrides));
      const node: OpNode = { id, type: "op", position, data: { op, params }, selected: true };
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

    renameNode: (id, next) => {
      const s = get();
      if (next === id) return null;
      if (!ID_PATTERN.test(next)) return "Ids use letters, digits, '_' and '-' (at most 64).";
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
      const state = s.state ? renameKey(s.state, id, next) : s.state;
      commit({ nodes, edges, state });
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
      const sel = selectedFragment(get().nodes, get().edges);
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
      const sel = selectedFragment(get().nodes, get().edges);
      return sel.nodes.length ? pasteNodes(sel, PASTE_OFFSET) : 0;
    },

    undo: () => {
      const s = get();
      const prev = s.past.at(-1);
      if (!prev) return;
      set({
        ...prev,
        ops: withModules(s.baseOps, prev.modules),
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
        ops: withModules(s.baseOps, next.modules),
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
      set({ validation: indexValidation({ ...seen, shapes: { ...seen.shapes, ...aliases } }) });
    },

    toDoc: () => {
      const s = get();
      const meta = {
        name: s.name,
        description: s.description,
        state: s.state,
        normalization: s.normalization,
      };
      if (!s.editing) return flowToDoc({ ...meta, modules: s.modules }, s.nodes, s.edges, s.ops);
      // the module on the canvas goes back into its place: the graph is whole again
      const def = editDocToModule(flowToDoc(meta, s.nodes, s.edges, s.ops));
      const modules = { ...s.modules, [s.editing.module]: def };
      return flowToDoc({ ...meta, modules }, s.editing.nodes, s.editing.edges, s.ops);
    },

    makeBlock: () => {
      const s = get();
      const selected = s.nodes.filter((n) => n.selected).map((n) => n.id);
      const canvas = flowToDoc(
        { name: s.name, state: s.state, modules: s.modules },
        s.nodes,
        s.edges,
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
      set({
        editing: { module, nodes: t.nodes, edges: t.edges },
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
      const doc = flowToDoc({ name: s.name }, s.nodes, s.edges, s.ops);
      const modules = { ...s.modules, [s.editing.module]: editDocToModule(doc) };
      const ops = withModules(s.baseOps, modules);
      // ports may have changed: drop the links of the graph to ports that are gone
      const portsOf = (n: OpNode | undefined, side: "inputs" | "outputs") =>
        new Set((n ? ops[n.data.op]?.[side] : undefined)?.map((p) => p.name) ?? []);
      const byId = new Map(s.editing.nodes.map((n) => [n.id, n]));
      const edges = s.editing.edges.filter(
        (e) =>
          portsOf(byId.get(e.target), "inputs").has(e.targetHandle ?? "") &&
          (e.sourceHandle == null || portsOf(byId.get(e.source), "outputs").has(e.sourceHandle)),
      );
      set({
        modules,
        ops,
        nodes: s.editing.nodes,
        edges,
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

    toggleExpanded: (id) =>
      set((s) => {
        const expanded = { ...s.expanded };
        if (expanded[id]) delete expanded[id];
        else expanded[id] = true;
        return { expanded };
      }),
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

/** The registry's ops plus the canvas's module ops. */
function withModules(base: OpIndex, modules: Modules): OpIndex {
  return { ...base, ...moduleSpecs(modules) };
}

function renameKey<T>(rec: Record<string, T>, from: string, to: string): Record<string, T> {
  const key = (k: string) =>
    k === from ? to : k.startsWith(`${from}/`) ? `${to}${k.slice(from.length)}` : k;
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [key(k), v]));
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
