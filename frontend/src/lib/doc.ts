import type { Edge, Node } from "@xyflow/react";
import type { GraphDoc, GraphNode, OpSpec, ParamValue } from "../api/types";
import { INSTANCE_OP, instanceOp, type Modules, moduleOfOp } from "./modules";

/** The only data a canvas node carries: the document's op and params. Everything else about
 * the node (ports, drawing, docs) is looked up from the op spec by name. A module instance's
 * op is `module:<name>` (its params without `module`): see `lib/modules.ts`. */
export type OpNodeData = { op: string; params: Record<string, ParamValue> };
export type OpNode = Node<OpNodeData, "op">;
export type FlowEdge = Edge;

export type OpIndex = Readonly<Record<string, OpSpec>>;

/** One edge per target port (a port takes at most one source), so the port names the edge. */
export const edgeId = (target: string, port: string) => `e-${target}-${port}`;

/** Parses `"node"` or `"node:port"`; node ids cannot contain ':' so the split is unambiguous. */
export function parseRef(ref: string): { node: string; port: string | null } {
  const i = ref.indexOf(":");
  return i < 0 ? { node: ref, port: null } : { node: ref.slice(0, i), port: ref.slice(i + 1) };
}

/** `"node"` for an op's only output, `"node:port"` otherwise, as the document format asks. */
export function formatRef(node: string, port: string | null | undefined, spec?: OpSpec): string {
  if (!port) return node;
  if (spec && spec.outputs.length === 1 && spec.outputs[0].name === port) return node;
  return `${node}:${port}`;
}

export function makeEdge(
  source: string,
  sourceHandle: string | null,
  target: string,
  port: string,
): FlowEdge {
  return {
    id: edgeId(target, port),
    source,
    sourceHandle,
    target,
    targetHandle: port,
    type: "shape",
  };
}

export interface FlowGraph {
  nodes: OpNode[];
  edges: FlowEdge[];
  /** input references that named a node absent from the document, dropped from the canvas */
  dangling: string[];
}

export function docToFlow(doc: GraphDoc, ops: OpIndex): FlowGraph {
  const ids = new Set(doc.nodes.map((n) => n.id));
  const fallback = fallbackPositions(doc.nodes);
  const nodes: OpNode[] = doc.nodes.map((n, i) => ({
    id: n.id,
    type: "op",
    position: n.ui ? { x: n.ui.x, y: n.ui.y } : fallback[i],
    data: canvasData(n),
  }));
  const byId = new Map(nodes.map((n) => [n.id, n.data]));
  const edges: FlowEdge[] = [];
  const dangling: string[] = [];
  for (const n of doc.nodes) {
    for (const [port, ref] of Object.entries(n.inputs ?? {})) {
      const { node, port: out } = parseRef(ref);
      if (!ids.has(node)) {
        dangling.push(`${n.id}.${port} ← ${ref}`);
        continue;
      }
      const srcOp = byId.get(node)?.op;
      const handle = out ?? (srcOp ? ops[srcOp]?.outputs[0]?.name : undefined) ?? null;
      edges.push(makeEdge(node, handle, n.id, port));
    }
  }
  return { nodes, edges, dangling };
}

/** A document node's canvas data: an instance's op names its module. */
function canvasData(n: GraphNode): OpNodeData {
  const params = { ...(n.params ?? {}) };
  if (n.op === INSTANCE_OP && typeof params.module === "string") {
    const op = instanceOp(params.module);
    delete params.module;
    return { op, params };
  }
  return { op: n.op, params };
}

/** The document-level fields that are not drawn: carried through the editor untouched. */
export interface DocMeta {
  name: string;
  description?: string;
  state?: GraphDoc["state"];
  modules?: Modules;
  normalization?: GraphDoc["normalization"];
}

export function flowToDoc(
  meta: DocMeta,
  nodes: readonly OpNode[],
  edges: readonly FlowEdge[],
  ops: OpIndex,
): GraphDoc {
  const opOf = new Map(nodes.map((n) => [n.id, n.data.op]));
  const inputs = new Map<string, Record<string, string>>();
  for (const e of edges) {
    if (!e.targetHandle) continue;
    const spec = ops[opOf.get(e.source) ?? ""];
    const record = inputs.get(e.target) ?? {};
    record[e.targetHandle] = formatRef(e.source, e.sourceHandle, spec);
    inputs.set(e.target, record);
  }
  const docNodes: GraphNode[] = nodes.map((n) => {
    const module = moduleOfOp(n.data.op);
    const out: GraphNode = { id: n.id, op: module === null ? n.data.op : INSTANCE_OP };
    const params: Record<string, ParamValue> =
      module === null ? { ...n.data.params } : { module, ...n.data.params };
    if (module !== null && (params.tie === null || params.tie === "")) delete params.tie;
    if (Object.keys(params).length > 0) out.params = params;
    const ins = inputs.get(n.id);
    if (ins) out.inputs = sortKeys(ins, ops[n.data.op]);
    out.ui = { x: Math.round(n.position.x), y: Math.round(n.position.y) };
    return out;
  });
  const doc: GraphDoc = { version: 1, name: meta.name, nodes: [] };
  if (meta.description) doc.description = meta.description;
  doc.nodes = docNodes;
  if (meta.modules && Object.keys(meta.modules).length > 0) doc.modules = meta.modules;
  if (meta.state && Object.keys(meta.state).length > 0) doc.state = meta.state;
  // the training data's scaling goes with the parameters it was trained to
  if (doc.state && meta.normalization) doc.normalization = meta.normalization;
  return doc;
}

/** Input ports in the order the op declares them, so exported JSON reads naturally. */
function sortKeys(rec: Record<string, string>, spec: OpSpec | undefined): Record<string, string> {
  const order = spec?.inputs.map((p) => p.name) ?? [];
  const keys = Object.keys(rec).sort((a, b) => rank(order, a) - rank(order, b));
  return Object.fromEntries(keys.map((k) => [k, rec[k]]));
}

const rank = (order: string[], k: string) => {
  const i = order.indexOf(k);
  return i < 0 ? order.length : i;
};

/**
 * Positions for nodes that come without `ui`: columns by longest path from a source, so a
 * hand-written document opens readable before any auto-layout. Iterative (Kahn) on purpose.
 */
function fallbackPositions(nodes: readonly GraphNode[]): { x: number; y: number }[] {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const indeg = nodes.map(() => 0);
  const succ: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const ref of Object.values(n.inputs ?? {})) {
      const j = index.get(parseRef(ref).node);
      if (j === undefined) continue;
      succ[j].push(i);
      indeg[i]++;
    }
  });
  const layer = nodes.map(() => 0);
  const queue = nodes.flatMap((_, i) => (indeg[i] === 0 ? [i] : []));
  for (let q = 0; q < queue.length; q++) {
    for (const k of succ[queue[q]]) {
      layer[k] = Math.max(layer[k], layer[queue[q]] + 1);
      if (--indeg[k] === 0) queue.push(k);
    }
  }
  const rows = new Map<number, number>();
  return layer.map((l) => {
    const row = rows.get(l) ?? 0;
    rows.set(l, row + 1);
    return { x: 40 + l * 220, y: 40 + row * 120 };
  });
}
