// What the card writes for a module instance taken as one step (the notes' functional module
// z = G(x, w)): forward its inputs and outputs, backward g = ∂C/∂z at its outputs and its VJP per
// input port — the sum of what its inner nodes send back to that input (POST /api/explain →
// blocks). Pure functions, like lines.ts: the card renders them, the tests read them.
import { aligned, arrivingLine, type Line, sentBack } from "./lines";
import { defaultSymbol, texValue } from "./tex";
import type { ExplainBlock, ExplainNode, Tensor } from "./types";
import type { Walk } from "./walk";

const texId = (id: string) => `\\mathrm{${id.replace(/_/g, "\\_")}}`;

/** G with its module's name. */
export const blockSymbol = (block: ExplainBlock) => `G_{${texId(block.module)}}`;

const several = (block: ExplainBlock) => Object.keys(block.outputs).length > 1;

/** z for its output (the notes: a block computes z; y is the desired output), z_port for several. */
const outSymbol = (block: ExplainBlock, port: string) =>
  several(block) ? `z_{${texId(port)}}` : "z";

/** g = ∂C/∂z at an output. */
const gSymbol = (block: ExplainBlock, port: string) =>
  several(block) ? `g_{${texId(port)}}` : "g";

/** `G_mix(h, k; w)`, or its output `port`'s part when it has several. */
function blockCall(block: ExplainBlock, port: string): string {
  const args = `${Object.keys(block.inputs).map(defaultSymbol).join(", ")};\\, w`;
  const part = several(block) ? `^{${texId(port)}}` : "";
  return `${blockSymbol(block)}${part}(${args})`;
}

/** The block's rule: `z = G_mix(h, k; w)`, one per output. */
export function blockRule(block: ExplainBlock): string {
  return Object.keys(block.outputs)
    .map((p) => `${outSymbol(block, p)} = ${blockCall(block, p)}`)
    .join(",\\quad ");
}

/** g, or (g_y1, g_y2) for several outputs: what reaches the block. */
const gOf = (block: ExplainBlock) =>
  several(block)
    ? `\\left(${Object.keys(block.outputs)
        .map((p) => gSymbol(block, p))
        .join(", ")}\\right)`
    : "g";

/** (∂G/∂x)ᵀ g: the block's VJP to input `port`, as a formula. */
const vjpOf = (block: ExplainBlock, port: string) =>
  `\\left(\\frac{\\partial ${blockSymbol(block)}}{\\partial ${defaultSymbol(port)}}\\right)^{\\!\\top} ${gOf(block)}`;

/** The rule of the backward step, in the notes' notation: ∂C/∂x = (∂G/∂x)ᵀ g per input. */
export function blockVjpRule(block: ExplainBlock): string {
  return Object.keys(block.inputs)
    .map((p) => `\\frac{\\partial C}{\\partial ${defaultSymbol(p)}} = ${vjpOf(block, p)}`)
    .join(",\\quad ");
}

export function blockForwardLines(block: ExplainBlock): Line[] {
  const lines: Line[] = Object.entries(block.inputs).map(([port, p]) => ({
    label: `input ${port} ← ${p.key}`,
    tex: `${defaultSymbol(port)} = ${texValue(p.value)}`,
    value: p.value,
    kind: "numbers" as const,
  }));
  for (const [port, p] of Object.entries(block.outputs)) {
    const lhs = outSymbol(block, port);
    lines.push({
      label: several(block) ? `output ${port}` : "its output, the module run on these inputs",
      tex: aligned(lhs, [blockCall(block, port), texValue(p.value)]),
      value: p.value,
      kind: "numbers",
    });
  }
  return lines;
}

/** The inner nodes' contributions to dC/d(input `port`): what the block's VJP sums. The answer
 * names who reads each port (`readers`); older answers: whoever reads the value fed to it. */
export function innerParts(
  block: ExplainBlock,
  port: string,
  byId: Record<string, ExplainNode>,
): { from: string; value: Tensor }[] {
  const key = block.inputs[port]?.key;
  const readers =
    block.readers?.[port] ??
    block.nodes.flatMap((id) =>
      Object.entries(byId[id]?.sources ?? {})
        .filter(([, src]) => src === key)
        .map(([p]) => ({ node: id, port: p })),
    );
  return readers
    .map((r) => ({ from: `${r.node}.${r.port}`, value: byId[r.node]?.vjps[r.port] }))
    .filter((p): p is { from: string; value: Tensor } => p.value !== undefined);
}

export function blockBackwardLines(block: ExplainBlock, walk: Walk): Line[] {
  const lines: Line[] = [];
  for (const [port, p] of Object.entries(block.outputs)) {
    if (p.grad === undefined || p.grad === null) continue;
    const maker = walk.byId[p.key.split(":")[0]];
    const consumers = maker?.outputs.find((o) => o.key === p.key)?.consumers ?? [];
    const lhs = `${gSymbol(block, port)} = \\frac{\\partial C}{\\partial ${outSymbol(block, port)}}`;
    lines.push(arrivingLine(lhs, p.grad, sentBack(p.key, consumers, walk.byId, walk)));
  }
  for (const [port, p] of Object.entries(block.inputs)) {
    const vjp = block.vjps[port];
    if (vjp === undefined) continue;
    const x = defaultSymbol(port);
    const parts = innerParts(block, port, walk.byId);
    const jt = vjpOf(block, port);
    const sum = parts.length > 1 ? [parts.map((q) => texValue(q.value)).join(" + ")] : [];
    const from = parts.map((q) => q.from).join(", ");
    lines.push({
      label:
        `to ${p.key} (port ${port}): the block's VJP` +
        (parts.length > 1
          ? `, the sum of what ${from} send back`
          : from
            ? `, what ${from} sends back`
            : ""),
      tex: aligned(`\\frac{\\partial C}{\\partial ${x}}`, [jt, ...sum, texValue(vjp)]),
      value: vjp,
      kind: "numbers",
    });
  }
  return lines;
}

/** Its parameters, `b1/l.W`...: an instance tied to another uses that one's. */
export function blockParams(block: ExplainBlock, state: Record<string, unknown>): string[] {
  const owner = block.tie ?? block.id;
  return block.nodes.flatMap((id) => {
    const own = `${owner}${id.slice(block.id.length)}`;
    return Object.keys((state[own] ?? {}) as object).map((name) => `${own}.${name}`);
  });
}
