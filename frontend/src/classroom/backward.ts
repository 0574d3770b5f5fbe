// The transformed graph of backpropagation: the same blocks, edges reversed, each block replaced
// by its vector-Jacobian product. Built from the document and the op specs alone (and, when there
// is one, the explain answer for numbers on the edges).
import type { GraphDoc, OpSpec } from "../api/types";
import { parseRef } from "../lib/doc";
import { compact, fillTemplate, gradSymbol, symbolOf } from "./tex";
import type { ExplainResult } from "./types";

export interface VjpLine {
  tex: string;
  /** an input port (sent back along an edge) or a parameter (kept for the update) */
  to: "port" | "param";
}

export interface BackNodeData extends Record<string, unknown> {
  id: string;
  label: string;
  kind: "vjp" | "seed" | "data" | "none";
  /** forward outputs: where gradients arrive (right side) */
  ins: { name: string; fanIn: number }[];
  /** forward inputs that get a gradient: where they leave (left side) */
  outs: string[];
  lines: VjpLine[];
}

export interface BackNode {
  id: string;
  type: "vjp";
  position: { x: number; y: number };
  data: BackNodeData;
}

export interface BackEdge {
  id: string;
  source: string;
  sourceHandle: string;
  target: string;
  targetHandle: string;
  label?: string;
}

/** Horizontal room a VJP block needs beyond a forward block. */
const SPREAD = 1.45;

export function buildBackward(
  doc: GraphDoc,
  ops: Readonly<Record<string, OpSpec>>,
  result: ExplainResult | null,
): { nodes: BackNode[]; edges: BackEdge[] } {
  const byId = new Map(result?.nodes.map((n) => [n.id, n]) ?? []);
  const consumers = new Map<string, number>();
  const edges: BackEdge[] = [];
  // which input ports carry a gradient back
  const carries = (nodeId: string, op: string, port: string): boolean => {
    const n = byId.get(nodeId);
    if (n) return port in n.vjps;
    const spec = ops[op];
    return Boolean(spec?.differentiable && spec.explain?.vjp?.[port]);
  };
  for (const n of doc.nodes) {
    for (const [port, ref] of Object.entries(n.inputs ?? {})) {
      if (!carries(n.id, n.op, port)) continue;
      const { node: src, port: out } = parseRef(ref);
      const srcSpec = ops[doc.nodes.find((m) => m.id === src)?.op ?? ""];
      const outName = out ?? srcSpec?.outputs[0]?.name ?? "y";
      const key = `${src}:${outName}`;
      consumers.set(key, (consumers.get(key) ?? 0) + 1);
      const v = byId.get(n.id)?.vjps[port];
      edges.push({
        id: `b-${n.id}-${port}`,
        source: n.id,
        sourceHandle: `dx-${port}`,
        target: src,
        targetHandle: `dy-${outName}`,
        label: v === undefined ? `∂C/∂${port}` : compact(v),
      });
    }
  }
  const nodes: BackNode[] = doc.nodes.map((n, i) => {
    const spec = ops[n.op];
    const outputs = spec?.outputs.map((o) => o.name) ?? ["y"];
    const ins = outputs.map((name) => ({ name, fanIn: consumers.get(`${n.id}:${name}`) ?? 0 }));
    const outs = (spec?.inputs ?? []).map((p) => p.name).filter((p) => carries(n.id, n.op, p));
    const symbols = spec?.explain?.symbols ?? {};
    const lines: VjpLine[] = [];
    for (const p of outs) {
      const tpl = spec?.explain?.vjp?.[p];
      const rhs = tpl ? fillTemplate(tpl, "symbolic", () => 1, symbols) : "\\cdots";
      lines.push({ tex: `${gradSymbol(p, symbols)} = ${rhs}`, to: "port" });
    }
    for (const t of spec?.parameters ?? []) {
      const tpl = spec?.explain?.vjp?.[t.name];
      if (!tpl || (result && !(t.name in (result.param_grads[n.id] ?? {})))) continue;
      const rhs = fillTemplate(tpl, "symbolic", () => 1, symbols);
      lines.push({ tex: `${gradSymbol(t.name, symbols)} = ${rhs}`, to: "param" });
    }
    let kind: BackNodeData["kind"] = "vjp";
    if (spec?.category === "cost") {
      kind = "seed";
      lines.unshift({
        tex: `\\frac{\\partial C}{\\partial ${symbolOf("ans", symbols)}} = 1`,
        to: "port",
      });
    } else if (spec?.category === "variable" && lines.length === 0) {
      kind = ins.some((x) => x.fanIn > 0) ? "data" : "none";
    } else if (lines.length === 0) {
      kind = "none";
    }
    const ui = n.ui ?? { x: i * 200, y: 0 };
    return {
      id: n.id,
      type: "vjp",
      position: { x: ui.x * SPREAD, y: ui.y * 1.2 },
      data: { id: n.id, label: spec?.label ?? n.op, kind, ins, outs, lines },
    };
  });
  return { nodes, edges };
}
