// Smart defaults: what a freshly added or freshly wired node should be set to. Pure functions
// of the op specs (port dtypes, the `source` of variables), the graph and the dataset facts;
// no op name appears here (DESIGN.md: the frontend learns ops from GET /api/ops).
import type { OpSpec, ParamValue } from "../api/types";
import type { FlowEdge, OpNode } from "../lib/doc";
import { formatShape } from "../lib/notation";
import type { DataFacts } from "./facts";

/** A hidden layer's starting width: small enough to train in seconds, wide enough to bend. */
export const HIDDEN_SIZE = 16;
/** The param that sets how many values a block emits per sample (Linear's size). */
export const SIZE_PARAM = "out_features";

export interface Change {
  node: string;
  params: Record<string, ParamValue>;
  /** said in the inspector: what was set and why */
  why: string;
}

type Ops = Record<string, OpSpec>;

const hasParam = (spec: OpSpec | undefined, name: string) =>
  !!spec?.params.some((p) => p.name === name);
const same = (a: ParamValue, b: ParamValue) => JSON.stringify(a) === JSON.stringify(b);
/** Entries per sample of a shape param (NaN when it is not a list of sizes). */
const entries = (shape: ParamValue) =>
  Array.isArray(shape) ? shape.reduce<number>((a, b) => a * Number(b), 1) : Number.NaN;

/** Params for a node about to be added, beyond its op's declared defaults. */
export function addDefaults(spec: OpSpec, facts: DataFacts | null): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  if (spec.source === "input" && facts && hasParam(spec, "shape")) out.shape = facts.inputShape;
  const size = spec.params.find((p) => p.name === SIZE_PARAM);
  if (size && (size.default === null || size.default === undefined)) out[SIZE_PARAM] = HIDDEN_SIZE;
  return out;
}

/** True when the port takes integer class labels (`int`, or `any`: labels or a distribution). */
export const takesLabels = (spec: OpSpec | undefined, port: string | null | undefined) =>
  !!spec?.inputs.some((p) => p.name === port && (p.dtype === "int" || p.dtype === "any"));

/** The port of a cost that the desired output feeds, by the notes' convention. */
const TARGET_PORT = "target";

/** The changes that wiring `source` into `target:port` calls for. */
export function connectChanges(
  edge: { source: string; target: string; targetHandle: string | null | undefined },
  nodes: OpNode[],
  ops: Ops,
  facts: DataFacts | null,
): Change[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const src = byId.get(edge.source);
  const dst = byId.get(edge.target);
  if (!src || !dst) return [];
  const srcSpec = ops[src.data.op];
  const dstSpec = ops[dst.data.op];
  if (dstSpec?.category !== "cost") return [];
  const changes: Change[] = [];
  const labels = { dtype: "int", shape: [] as number[] };
  if (srcSpec?.source === "target" && takesLabels(dstSpec, edge.targetHandle)) {
    const p = src.data.params;
    const wantsLabels = !facts || facts.task === "classification";
    if (wantsLabels && !(same(p.dtype, "int") && same(p.shape, []))) {
      changes.push({
        node: src.id,
        params: labels,
        why: `${dstSpec.label}'s ${edge.targetHandle} takes class labels: set dtype int, shape []`,
      });
    }
  }
  // The prediction side of a cost: size the block that feeds it to the dataset's answer.
  // A cost that takes labels scores classes; one that does not compares values.
  const classifies = dstSpec.inputs.some((p) => takesLabels(dstSpec, p.name));
  const fits = facts && (facts.task === "classification") === classifies;
  if (edge.targetHandle !== TARGET_PORT && srcSpec && hasParam(srcSpec, SIZE_PARAM) && fits) {
    const want = facts.task === "classification" ? facts.classes : facts.outputs;
    const have = src.data.params[SIZE_PARAM];
    // Only a size still at its starting value: a size the user typed is theirs.
    const untouched = have === undefined || have === null || have === HIDDEN_SIZE;
    if (want > 0 && untouched && have !== want) {
      const what = facts.task === "classification" ? `the ${want} classes` : `${want} target`;
      changes.push({
        node: src.id,
        params: { [SIZE_PARAM]: want },
        why: `feeds ${dstSpec.label}: ${SIZE_PARAM} set to ${want} to match ${what} of ${facts.title}`,
      });
    }
  }
  return changes;
}

export interface Fix extends Change {
  /** the button's text */
  label: string;
}

/** Errors with an obvious remedy, as buttons: one list for the whole graph. */
export function graphFixes(
  nodes: OpNode[],
  edges: FlowEdge[],
  ops: Ops,
  errorsByNode: Record<string, { port?: string | null }[] | undefined>,
  facts: DataFacts | null,
): Fix[] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const fixes: Fix[] = [];
  const seen = new Set<string>();
  const add = (f: Fix) => {
    const key = `${f.node}:${JSON.stringify(f.params)}`;
    if (!seen.has(key)) fixes.push(f);
    seen.add(key);
  };
  for (const e of edges) {
    const src = byId.get(e.source);
    const dst = byId.get(e.target);
    if (!src || !dst) continue;
    const srcSpec = ops[src.data.op];
    const dstSpec = ops[dst.data.op];
    const errs = errorsByNode[dst.id] ?? [];
    // A label port refusing its target: make the target class labels.
    if (
      srcSpec?.source === "target" &&
      takesLabels(dstSpec, e.targetHandle) &&
      errs.some((x) => x.port === e.targetHandle)
    ) {
      add({
        node: src.id,
        params: { dtype: "int", shape: [] },
        label: `Make ${src.id} class labels`,
        why: `${dstSpec?.label ?? dst.data.op}'s ${e.targetHandle} takes one class label per sample`,
      });
    }
    // The block feeding a classification cost emits a size other than the class count.
    if (
      facts?.task === "classification" &&
      facts.classes > 1 &&
      dstSpec?.category === "cost" &&
      dstSpec.inputs.some((p) => takesLabels(dstSpec, p.name)) &&
      e.targetHandle !== TARGET_PORT &&
      hasParam(srcSpec, SIZE_PARAM) &&
      src.data.params[SIZE_PARAM] !== facts.classes
    ) {
      add({
        node: src.id,
        params: { [SIZE_PARAM]: facts.classes },
        label: `Set ${src.id}.${SIZE_PARAM} to ${facts.classes} to match the ${facts.classes} classes`,
        why: `${facts.title} has ${facts.classes} classes; ${dstSpec.label} needs one score per class`,
      });
    }
  }
  const inputs = nodes.filter((n) => ops[n.data.op]?.source === "input");
  for (const n of nodes) {
    const spec = ops[n.data.op];
    const errs = errorsByNode[n.id] ?? [];
    // A required size left empty.
    if (hasParam(spec, SIZE_PARAM) && errs.some((x) => x.port === SIZE_PARAM)) {
      const v = n.data.params[SIZE_PARAM];
      if (v === undefined || v === null)
        add({
          node: n.id,
          params: { [SIZE_PARAM]: HIDDEN_SIZE },
          label: `Set ${n.id}.${SIZE_PARAM} to ${HIDDEN_SIZE}`,
          why: "a hidden layer's usual starting width",
        });
    }
    // The input cannot take the dataset's features. The same number of entries in another
    // shape is fine: the samples are reshaped (digits as [1, 8, 8] images for a convnet).
    if (
      spec?.source === "input" &&
      inputs.length === 1 &&
      facts &&
      entries(n.data.params.shape) !== entries(facts.inputShape)
    ) {
      add({
        node: n.id,
        params: { shape: facts.inputShape },
        label: `Set ${n.id}'s shape to ${formatShape(facts.inputShape)} to match ${facts.title}`,
        why: `${facts.title} has ${facts.inputShape.reduce((a, b) => a * b, 1)} features per sample`,
      });
    }
  }
  return fixes;
}
