// What the explain card writes at each step, as LaTeX lines built from the op's own templates
// (GET /api/ops → explain) and the numbers of the sample (POST /api/explain). Pure functions:
// the card renders them, the tests read them.
import type { OpSpec } from "../api/types";
import {
  defaultSymbol,
  fillTemplate,
  gradSymbol,
  type Lookup,
  symbolOf,
  texNumber,
  texValue,
} from "./tex";
import type { ExplainConsumer, ExplainNode, ExplainResult, Tensor } from "./types";
import { splitParam, updated, type Walk, wholeBlock } from "./walk";

export interface Line {
  /** what this line says, in words (left of the formula) */
  label: string;
  tex: string;
  /** the number(s) the line ends with, for tests and tooltips */
  value?: Tensor;
  kind?: "rule" | "numbers" | "sum";
}

type Explain = NonNullable<OpSpec["explain"]>;

const explainOf = (spec: OpSpec | undefined): Explain =>
  spec?.explain ?? { forward: null, vjp: {}, symbols: {} };

/** `lhs = a, = b, = c` one step per line, aligned on the signs. */
export function aligned(lhs: string, steps: string[], first = "="): string {
  const rows = steps.map((x, i) => `${i === 0 ? lhs : ""} &${i === 0 ? first : "="} ${x}`);
  return `\\begin{aligned}${rows.join("\\\\")}\\end{aligned}`;
}

/** Values a template of `node` may name: its env, then its parameters. */
export function lookupFor(node: ExplainNode, result: ExplainResult): Lookup {
  const state = result.state[node.id] ?? {};
  return (name) => {
    if (name in node.env) return node.env[name] as Tensor | string | boolean;
    if (name in state) return state[name];
    return undefined;
  };
}

/** `x` fed from `l1`: which node each input port reads. */
export function wiring(node: ExplainNode): string {
  const parts = Object.entries(node.sources).map(([port, key]) => `${port} ← ${key}`);
  return parts.join(", ");
}

const isSource = (node: ExplainNode, spec: OpSpec | undefined) =>
  !explainOf(spec).forward && node.category === "variable";

/** Symbol of an output of `node`: `y`, `y_1`, or the node id for data. */
function outSymbol(node: ExplainNode, spec: OpSpec | undefined, port: string): string {
  const symbols = explainOf(spec).symbols ?? {};
  if (isSource(node, spec)) return `\\mathrm{${node.id.replace(/_/g, "\\_")}}`;
  return node.outputs.length > 1 ? symbolOf(`ans.${port}`, symbols) : symbolOf("ans", symbols);
}

export function forwardLines(
  node: ExplainNode,
  spec: OpSpec | undefined,
  result: ExplainResult,
): Line[] {
  const ex = explainOf(spec);
  const symbols = ex.symbols ?? {};
  const lookup = lookupFor(node, result);
  const lines: Line[] = [];
  if (!ex.forward) {
    for (const o of node.outputs) {
      lines.push({
        label: node.category === "variable" ? "fed from the sample" : "value",
        tex: `${outSymbol(node, spec, o.port)} = ${texValue(o.value)}`,
        value: o.value,
        kind: "numbers",
      });
    }
    return lines;
  }
  const lhs = node.outputs.map((o) => outSymbol(node, spec, o.port)).join(" = ");
  const numeric = fillTemplate(ex.forward, "numeric", lookup, symbols);
  const value = node.outputs[0].value;
  lines.push({
    label: "with the numbers of the sample",
    tex: aligned(lhs, [numeric, texValue(value)]),
    value,
    kind: "numbers",
  });
  return lines;
}

/** How dC/d(output) arrives: 1 for a cost, else the sum of what each consumer sent back (a
 * module instance the walk takes whole as one). */
export function incomingLines(
  node: ExplainNode,
  spec: OpSpec | undefined,
  byId: Record<string, ExplainNode>,
  walk?: Walk,
): Line[] {
  const lines: Line[] = [];
  for (const o of node.outputs) {
    if (o.grad === undefined || o.grad === null) continue;
    const lhs = `\\frac{\\partial C}{\\partial ${outSymbol(node, spec, o.port)}}`;
    if (node.category === "cost") {
      lines.push({
        label: "C is the sum of the costs, so each cost receives 1",
        tex: `${lhs} = ${texValue(o.grad)}`,
        value: o.grad,
        kind: "sum",
      });
      continue;
    }
    lines.push(arrivingLine(lhs, o.grad, sentBack(o.key, o.consumers, byId, walk)));
  }
  return lines;
}

/** What a consumer sent back: its name (`node.port`, or `b1.h` for a module instance) and
 * its VJP. */
export interface SentBack {
  from: string;
  value: Tensor;
}

/** Who sent dC/d(the value at `key`) back: each consumer's VJP or, for consumers inside a module
 * instance the backward walk takes whole, that instance's VJP to each input port fed the value. */
export function sentBack(
  key: string,
  consumers: ExplainConsumer[],
  byId: Record<string, ExplainNode>,
  walk?: Walk,
): SentBack[] {
  const producer = key.split(":")[0];
  const out: SentBack[] = [];
  const seen = new Set<string>();
  for (const c of consumers) {
    const whole = walk ? wholeBlock(walk, c.node, producer) : undefined;
    const ports = whole ? Object.keys(whole.inputs).filter((q) => whole.inputs[q].key === key) : [];
    if (whole && ports.length > 0) {
      // the block sends back once per port fed this value, whichever inner node reads it
      for (const q of ports) {
        const v = whole.vjps[q];
        if (!seen.has(`${whole.id}.${q}`) && v !== undefined) {
          out.push({ from: `${whole.id}.${q}`, value: v });
        }
        seen.add(`${whole.id}.${q}`);
      }
      continue;
    }
    const v = byId[c.node]?.vjps[c.port];
    if (v !== undefined) out.push({ from: `${c.node}.${c.port}`, value: v });
  }
  return out;
}

/** dC/d(a value): the sum of what each block that reads it sent back (fan-out adds up). */
export function arrivingLine(lhs: string, grad: Tensor, parts: SentBack[]): Line {
  if (parts.length === 0) {
    return {
      label: "no block that reaches a cost uses this value",
      tex: `${lhs} = ${texValue(grad)}`,
      value: grad,
      kind: "sum",
    };
  }
  const from = parts.map((p) => p.from).join(", ");
  const sum = parts.map((p) => texValue(p.value)).join(" + ");
  return {
    label:
      parts.length > 1
        ? `${parts.length} blocks use it (${from}): their gradients add up`
        : `sent back by ${from}`,
    tex: parts.length > 1 ? aligned(lhs, [sum, texValue(grad)]) : `${lhs} = ${texValue(grad)}`,
    value: grad,
    kind: "sum",
  };
}

/** Each local rule dC/d(input) and dC/d(parameter), with symbols and with the numbers. */
export function ruleLines(
  node: ExplainNode,
  spec: OpSpec | undefined,
  result: ExplainResult,
): Line[] {
  const ex = explainOf(spec);
  const symbols = ex.symbols ?? {};
  const lookup = lookupFor(node, result);
  const lines: Line[] = [];
  const add = (name: string, value: Tensor, label: string) => {
    const lhs = gradSymbol(name, symbols);
    const tpl = ex.vjp?.[name];
    if (!tpl) {
      lines.push({ label, tex: `${lhs} = ${texValue(value)}`, value, kind: "numbers" });
      return;
    }
    const symbolic = fillTemplate(tpl, "symbolic", lookup, symbols);
    const numeric = fillTemplate(tpl, "numeric", lookup, symbols);
    lines.push({
      label,
      tex: aligned(lhs, [symbolic, numeric, texValue(value)]),
      value,
      kind: "numbers",
    });
  };
  for (const [port, value] of Object.entries(node.vjps)) {
    add(port, value, `to ${node.sources[port]} (port ${port})`);
  }
  for (const [name, value] of Object.entries(result.param_grads[node.id] ?? {})) {
    add(name, value, `parameter ${name}: for the update`);
  }
  return lines;
}

/** w ← w − η ∂C/∂w for one parameter, with the numbers. */
export function updateLine(result: ExplainResult, key: string, lr: number): Line | null {
  const [nid, name] = splitParam(key);
  const w = result.state[nid]?.[name];
  const g = result.param_grads[nid]?.[name];
  if (w === undefined || g === undefined) return null;
  const next = updated(w, g, lr);
  const sym = `${defaultSymbol(name)}^{(\\mathrm{${nid.replace(/_/g, "\\_")}})}`;
  const eta = texNumber(lr);
  return {
    label: `gradient descent on ${key}`,
    tex: aligned(
      sym,
      [
        `${sym} - \\eta\\, \\frac{\\partial L}{\\partial ${sym}}`,
        `${texValue(w)} - ${eta}\\, ${texValue(g)}`,
        texValue(next),
      ],
      "\\leftarrow",
    ),
    value: next,
    kind: "numbers",
  };
}
