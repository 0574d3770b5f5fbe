import type { GraphDoc, GraphNode, OpSpec, ValidateResult } from "../api/types";
import { freshId } from "./ids";

/** Modules: blocks made of blocks (DESIGN.md "Graph document", README "Modules").
 *
 * The document says `{"op": "module", "params": {"module": name}}` for an instance. On the
 * canvas an instance's op is `module:<name>`, so every part of the editor that looks a
 * node's ports up by op finds them in a spec made from the module's definition
 * (`moduleSpecs`). While a module's definition is edited, its inputs and outputs are drawn
 * as `@in` and `@out` nodes. */
export interface ModuleDef {
  inputs?: string[];
  outputs: Record<string, string>;
  nodes: GraphNode[];
}
export type Modules = Record<string, ModuleDef>;

/** the document's op for an instance */
export const INSTANCE_OP = "module";
const PREFIX = "module:";
/** a module input (its id is the port name) and output (`params.port`) while editing it */
export const IN_OP = "@in";
export const OUT_OP = "@out";

export const instanceOp = (module: string) => `${PREFIX}${module}`;
export const moduleOfOp = (op: string): string | null =>
  op.startsWith(PREFIX) ? op.slice(PREFIX.length) : null;

const ref = (s: string) => {
  const i = s.indexOf(":");
  return i < 0 ? s : s.slice(0, i);
};

function spec(
  name: string,
  label: string,
  doc: string,
  inputs: string[],
  outputs: string[],
): OpSpec {
  return {
    name,
    label,
    category: "function",
    doc,
    inputs: inputs.map((p) => ({ name: p, doc: `module input ${p}` })),
    outputs: outputs.map((p) => ({ name: p })),
    params: [],
    parameters: [],
    differentiable: true,
    formula: { forward: "", backward: "" },
  };
}

/** Op specs for the canvas: one per module (its instances' ports), plus `@in` and `@out`. */
export function moduleSpecs(modules: Modules | null | undefined): Record<string, OpSpec> {
  const out: Record<string, OpSpec> = {
    [IN_OP]: spec(
      IN_OP,
      "Module input",
      "An input of the module being edited: its id is the port's name.",
      [],
      ["x"],
    ),
    [OUT_OP]: spec(OUT_OP, "Module output", "An output of the module being edited.", ["y"], []),
  };
  out[OUT_OP].params = [
    {
      name: "port",
      type: "str",
      default: null,
      required: false,
      doc: "the output port's name (the node's id when empty)",
    },
  ];
  for (const [name, def] of Object.entries(modules ?? {})) {
    const s = spec(
      instanceOp(name),
      name,
      `An instance of module ${name}: a block made of ${def.nodes.length} blocks. ` +
        "Expand it to edit its blocks in place, or double-click it to edit the module alone " +
        "(either way every instance follows); Unpack (Ctrl+Shift+G) turns it back into plain blocks.",
      def.inputs ?? [],
      Object.keys(def.outputs),
    );
    s.params = [
      {
        name: "tie",
        type: "str",
        default: null,
        required: false,
        doc: "the id of another instance of this module whose parameters this one uses",
      },
    ];
    out[s.name] = s;
  }
  return out;
}

/** The stem of a new node's id: a module's name for its instances, `x`/`y` for ports. */
export function idStem(op: string): string {
  if (op === IN_OP) return "x";
  if (op === OUT_OP) return "y";
  return moduleOfOp(op) ?? op;
}

/** A name not in `taken`, made of the characters ids allow. */
function unique(base: string, taken: Set<string>): string {
  const stem = base.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 56) || "p";
  let name = stem;
  for (let i = 2; taken.has(name); i++) name = `${stem}${i}`;
  taken.add(name);
  return name;
}

export interface MadeBlock {
  doc: GraphDoc;
  module: string;
  instance: string;
}

/**
 * Turns the nodes `selected` of `doc` into a new module and one instance of it, in place.
 * Links from outside become the module's inputs (one per distinct source), links to the
 * outside its outputs (one per distinct inner value; the last block if nothing outside reads
 * it). Trained parameters move to the instance's addresses (`l` → `block1/l`). Returns the
 * new document, or why it cannot (`observed`: ops whose nodes are fed and stay outside).
 */
export function makeBlock(
  doc: GraphDoc,
  selected: readonly string[],
  observed: (op: string) => boolean,
): MadeBlock | string {
  const sel = new Set(selected);
  const inner = doc.nodes.filter((n) => sel.has(n.id));
  if (inner.length === 0) return "Select the blocks to group into a module first.";
  const fed = inner.find((n) => observed(n.op));
  if (fed) return `${fed.id} is fed with data: inputs and targets stay outside a block.`;
  const modules = (doc.modules ?? {}) as Modules;
  const module = unique("block", new Set(Object.keys(modules)));
  const instance = freshId(module, new Set(doc.nodes.map((n) => n.id)));

  // inputs: one per distinct outside source
  const names = new Set(inner.map((n) => n.id));
  const portOf = new Map<string, string>();
  const bind: Record<string, string> = {};
  const defNodes: GraphNode[] = inner.map((n) => {
    const ins: Record<string, string> = {};
    for (const [port, src] of Object.entries(n.inputs ?? {})) {
      if (sel.has(ref(src))) {
        ins[port] = src;
        continue;
      }
      let p = portOf.get(src);
      if (p === undefined) {
        p = unique(port, names);
        portOf.set(src, p);
        bind[p] = src;
      }
      ins[port] = p;
    }
    return { ...n, ...(Object.keys(ins).length ? { inputs: ins } : {}) };
  });

  // outputs: one per inner value read outside
  const read: string[] = [];
  for (const n of doc.nodes) {
    if (sel.has(n.id)) continue;
    for (const src of Object.values(n.inputs ?? {}))
      if (sel.has(ref(src)) && !read.includes(src)) read.push(src);
  }
  if (read.length === 0) {
    const usedInside = new Set(defNodes.flatMap((n) => Object.values(n.inputs ?? {}).map(ref)));
    const sinks = inner.filter((n) => !usedInside.has(n.id));
    read.push((sinks[sinks.length - 1] ?? inner[inner.length - 1]).id);
  }
  const outNames = new Set<string>();
  const outputs: Record<string, string> = {};
  const outRef = new Map<string, string>();
  for (const src of read) {
    const port = unique(read.length === 1 ? "y" : src.replace(":", "_"), outNames);
    outputs[port] = src;
    outRef.set(src, read.length === 1 ? instance : `${instance}:${port}`);
  }

  // positions inside are relative to the selection's corner
  const xs = inner.map((n) => n.ui?.x ?? 0);
  const ys = inner.map((n) => n.ui?.y ?? 0);
  const [x0, y0] = [Math.min(...xs), Math.min(...ys)];
  for (const n of defNodes) if (n.ui) n.ui = { ...n.ui, x: n.ui.x - x0 + 220, y: n.ui.y - y0 + 40 };
  const at = doc.nodes.findIndex((n) => sel.has(n.id));
  const inst: GraphNode = {
    id: instance,
    op: INSTANCE_OP,
    params: { module },
    inputs: bind,
    ui: { x: Math.round(x0), y: Math.round(ys.reduce((a, b) => a + b, 0) / ys.length) },
  };
  const rest = doc.nodes.flatMap((n) => {
    if (n.id === doc.nodes[at].id) return [inst];
    if (sel.has(n.id)) return [];
    const ins = n.inputs
      ? Object.fromEntries(Object.entries(n.inputs).map(([p, s]) => [p, outRef.get(s) ?? s]))
      : undefined;
    return [ins ? { ...n, inputs: ins } : n];
  });
  const out: GraphDoc = {
    ...doc,
    nodes: rest,
    modules: {
      ...modules,
      [module]: { inputs: Object.keys(bind), outputs, nodes: defNodes },
    },
  };
  if (doc.state) {
    out.state = Object.fromEntries(
      Object.entries(doc.state).map(([k, v]) => [
        sel.has(k.split("/")[0]) ? `${instance}/${k}` : k,
        v,
      ]),
    );
  }
  return { doc: out, module, instance };
}

/** The module's definition as a document to edit: `@in` nodes (ids: the input ports) on the
 * left, its blocks, `@out` nodes (`params.port`) on the right. */
export function moduleToEditDoc(name: string, def: ModuleDef): GraphDoc {
  const nodes = def.nodes.map((n) => ({ ...n }));
  const taken = new Set([...nodes.map((n) => n.id), ...(def.inputs ?? [])]);
  const right = Math.max(200, ...nodes.map((n) => (n.ui?.x as number | undefined) ?? 0)) + 240;
  const ins: GraphNode[] = (def.inputs ?? []).map((p, i) => ({
    id: p,
    op: IN_OP,
    ui: { x: 0, y: 40 + i * 110 },
  }));
  const outs: GraphNode[] = Object.entries(def.outputs).map(([port, src], i) => ({
    id: unique(taken.has(port) ? `${port}_out` : port, taken),
    op: OUT_OP,
    params: { port },
    inputs: { y: src },
    ui: { x: right, y: 40 + i * 110 },
  }));
  return { version: 1, name, nodes: [...ins, ...nodes, ...outs] };
}

/** Back from the edited document to the module's definition. */
export function editDocToModule(doc: GraphDoc): ModuleDef {
  const byY = (a: GraphNode, b: GraphNode) => (a.ui?.y ?? 0) - (b.ui?.y ?? 0);
  const inputs = doc.nodes.filter((n) => n.op === IN_OP).sort(byY);
  const outputs: Record<string, string> = {};
  for (const n of doc.nodes.filter((n) => n.op === OUT_OP).sort(byY)) {
    const port = typeof n.params?.port === "string" && n.params.port ? n.params.port : n.id;
    if (n.inputs?.y) outputs[port] = n.inputs.y;
  }
  const nodes = doc.nodes.filter((n) => n.op !== IN_OP && n.op !== OUT_OP);
  return { inputs: inputs.map((n) => n.id), outputs, nodes };
}

/** How many instances of `module` a document holds, its modules' bodies included. */
export function instancesOf(doc: GraphDoc, module: string): number {
  const modules = (doc.modules ?? {}) as Modules;
  const all = [doc.nodes, ...Object.values(modules).map((m) => m.nodes)];
  return all.flat().filter((n) => n.op === INSTANCE_OP && n.params?.module === module).length;
}

/** A validate answer for the whole graph seen from inside instance `prefix` (while its
 * module is on the canvas): its inner nodes' order, shapes and errors under their inner ids,
 * and each module input's shape (`inputs`: port → the value key feeding the instance). */
export function scopeValidation(
  v: ValidateResult,
  prefix: string,
  inputs: Record<string, string>,
): ValidateResult {
  const head = `${prefix}/`;
  const inner = (id: string) => (id.startsWith(head) ? id.slice(head.length) : null);
  const shapes: Record<string, number[]> = {};
  for (const [k, s] of Object.entries(v.shapes)) {
    const local = inner(k);
    if (local !== null) shapes[local] = s;
  }
  for (const [port, key] of Object.entries(inputs)) {
    if (v.shapes[key]) shapes[port] = v.shapes[key];
  }
  const errors = v.errors.map((e) => ({
    ...e,
    nodes: (e.nodes ?? []).map(inner).filter((id): id is string => id !== null),
  }));
  const order = v.order.map(inner).filter((id): id is string => id !== null);
  return { ...v, order, shapes, errors };
}

/** The flat value key an instance's output port reads (`block1/r1`, or through nested
 * instances `o/i2/t`); null when the output passes a module input straight through. */
export function flatOutput(
  modules: Modules,
  instance: string,
  module: string,
  port?: string,
): string | null {
  let [prefix, mod, p] = [instance, module, port];
  for (let depth = 0; depth < 64; depth++) {
    const def = modules[mod];
    const src = def?.outputs[p ?? Object.keys(def?.outputs ?? {})[0]];
    if (!src) return null;
    const i = src.indexOf(":");
    const [node, sub] = i < 0 ? [src, undefined] : [src.slice(0, i), src.slice(i + 1)];
    const inner = def.nodes.find((n) => n.id === node);
    if (!inner) return null;
    if (inner.op !== INSTANCE_OP) return `${prefix}/${src}`;
    [prefix, mod, p] = [`${prefix}/${node}`, String(inner.params?.module), sub];
  }
  return null;
}

/** Shapes under the keys the canvas draws an instance's outputs with (`block1`,
 * `block1:y`), from the flat keys of what they read. */
export function instanceShapes(
  modules: Modules,
  instances: { id: string; module: string }[],
  shapes: Record<string, number[]>,
): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const { id, module } of instances) {
    for (const port of Object.keys(modules[module]?.outputs ?? {})) {
      const key = flatOutput(modules, id, module, port);
      const shape = key === null ? undefined : shapes[key];
      if (!shape) continue;
      out[`${id}:${port}`] = shape;
      if (Object.keys(modules[module].outputs).length === 1) out[id] = shape;
    }
  }
  return out;
}

/** `modules` with module `from` called `to`, and every instance inside them following. */
export function renameInModules(modules: Modules, from: string, to: string): Modules {
  return Object.fromEntries(
    Object.entries(modules).map(([name, def]) => [
      name === from ? to : name,
      {
        ...def,
        nodes: def.nodes.map((n) =>
          n.op === INSTANCE_OP && n.params?.module === from
            ? { ...n, params: { ...n.params, module: to } }
            : n,
        ),
      },
    ]),
  );
}
