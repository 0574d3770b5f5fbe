import type { GraphDoc, GraphNode } from "../api/types";
import { freshId } from "./ids";
import { INSTANCE_OP, instancesOf, type Modules } from "./modules";

export interface Unpacked {
  doc: GraphDoc;
  /** the ids the instance's inner blocks got in the graph */
  ids: string[];
}

const split = (ref: string): [string, string | null] => {
  const i = ref.indexOf(":");
  return i < 0 ? [ref, null] : [ref.slice(0, i), ref.slice(i + 1)];
};

/**
 * Unpack: the inverse of Make block. Instance `instance` of `doc` is replaced by its module's
 * blocks, as plain nodes (an inner id is kept where the graph has it free, else made fresh),
 * wired as the instance was: module inputs read what fed the instance, readers of the
 * instance's outputs read the inner values. Its trained parameters move from `b1/l` to the
 * new ids, and the module goes when no instance of it is left. Returns why not otherwise.
 */
export function unpackInstance(doc: GraphDoc, instance: string): Unpacked | string {
  const inst = doc.nodes.find((n) => n.id === instance);
  if (!inst || inst.op !== INSTANCE_OP) return `${instance} is not a module block.`;
  const module = String(inst.params?.module ?? "");
  const modules = (doc.modules ?? {}) as Modules;
  const def = modules[module];
  if (!def) return `There is no module called ${module}.`;
  const tied = doc.nodes.find((n) => n.op === INSTANCE_OP && n.params?.tie === instance);
  if (inst.params?.tie || tied)
    return `${instance} shares its parameters (tie) with ${inst.params?.tie ?? tied?.id}: untie it first.`;

  const taken = new Set(doc.nodes.map((n) => n.id).filter((id) => id !== instance));
  const rename = new Map<string, string>();
  for (const n of def.nodes) {
    const id = taken.has(n.id) ? freshId(n.id, taken) : n.id;
    taken.add(id);
    rename.set(n.id, id);
  }
  const bound = inst.inputs ?? {};
  /** an inner reference seen from the graph; undefined: an unfed module input */
  const outer = (ref: string): string | undefined => {
    const [node, port] = split(ref);
    const id = rename.get(node);
    if (id === undefined) return bound[node];
    return port === null ? id : `${id}:${port}`;
  };

  const x0 = Math.min(...def.nodes.map((n) => n.ui?.x ?? 0));
  const y0 = Math.min(...def.nodes.map((n) => n.ui?.y ?? 0));
  const [ix, iy] = [inst.ui?.x ?? 0, inst.ui?.y ?? 0];
  const inner: GraphNode[] = def.nodes.map((n) => {
    const out: GraphNode = { ...n, id: rename.get(n.id) ?? n.id };
    if (n.inputs) {
      const ins = Object.entries(n.inputs).flatMap(([p, r]) => {
        const src = outer(r);
        return src === undefined ? [] : [[p, src] as const];
      });
      if (ins.length) out.inputs = Object.fromEntries(ins);
      else delete out.inputs;
    }
    if (n.ui) out.ui = { ...n.ui, x: ix + n.ui.x - x0, y: iy + n.ui.y - y0 };
    return out;
  });

  // readers of `b1` (its only output) or `b1:port` read the inner value behind it
  const ports = Object.keys(def.outputs);
  const readOf = (ref: string): string | undefined => {
    const [node, port] = split(ref);
    if (node !== instance) return ref;
    const src = def.outputs[port ?? ports[0]];
    return src === undefined ? undefined : outer(src);
  };
  const nodes = doc.nodes.flatMap((n) => {
    if (n.id === instance) return inner;
    if (!n.inputs) return [n];
    const ins = Object.entries(n.inputs).flatMap(([p, r]) => {
      const src = readOf(r);
      return src === undefined ? [] : [[p, src] as const];
    });
    const { inputs: _old, ...rest } = n;
    return [ins.length ? { ...rest, inputs: Object.fromEntries(ins) } : rest];
  });

  const out: GraphDoc = { ...doc, nodes };
  if (doc.state) {
    const head = `${instance}/`;
    out.state = Object.fromEntries(
      Object.entries(doc.state).map(([k, v]) => {
        if (!k.startsWith(head)) return [k, v];
        const [first, ...rest] = k.slice(head.length).split("/");
        return [[rename.get(first) ?? first, ...rest].join("/"), v];
      }),
    );
  }
  if (instancesOf(out, module) === 0) {
    const { [module]: _gone, ...left } = modules;
    if (Object.keys(left).length) out.modules = left;
    else delete out.modules;
  }
  return { doc: out, ids: inner.map((n) => n.id) };
}
