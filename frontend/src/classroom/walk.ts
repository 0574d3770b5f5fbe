// The walk through one sample: forward over every node in topological order, backward over every
// node that has a gradient in reverse order, then the update step of a parameter. Position 0 is the
// start (nothing shown yet); position k shows steps[k - 1] and everything before it.
//
// A module instance (the notes' functional module G(x, w)) is one step, forward and backward,
// unless the walk steps into it: `into` lists those instances per direction (`forward:b1`,
// `backward:b1`), and their inner nodes take the instance's place, one step each.
import type { ExplainBlock, ExplainNode, ExplainResult, Tensor } from "./types";

export type Direction = "forward" | "backward";

/** `node` is a node id, or a module instance's id when `block` (the instance as one step). */
export type Step = { kind: Direction; node: string; block?: boolean } | { kind: "update" };

export interface Walk {
  steps: Step[];
  /** node → position of its forward step (1-based); an instance stepped over: its inner nodes' */
  forwardAt: Record<string, number>;
  /** node → position of its backward step (1-based), for nodes with a gradient */
  backwardAt: Record<string, number>;
  /** position of the update step, or 0 when the graph has no parameters */
  updateAt: number;
  byId: Record<string, ExplainNode>;
  /** the module instances of the answer, by id */
  blocks: Record<string, ExplainBlock>;
  /** the instances the walk steps into (`intoKey`); every other one is one step */
  into: string[];
}

export const hasGradient = (n: ExplainNode) =>
  n.outputs.some((o) => o.grad !== undefined && o.grad !== null);

const blockHasGradient = (b: ExplainBlock) =>
  Object.values(b.outputs).some((o) => o.grad !== undefined && o.grad !== null);

/** How `into` names stepping into instance `block` in one direction. */
export const intoKey = (kind: Direction, block: string) => `${kind}:${block}`;

/** The node a value key (`node` or `node:port`) belongs to. */
const nodeOfKey = (key: string) => key.split(":")[0];

/** The unit `id` belongs to in `scope` ("" the graph, "b1/" inside b1): the outermost instance
 * under the scope that holds it, or the node itself. */
function unitOf(id: string, scope: string, blocks: ExplainBlock[]): string {
  let unit = id;
  for (const b of blocks) {
    if (b.id.startsWith(scope) && id.startsWith(`${b.id}/`) && b.id.length < unit.length) {
      unit = b.id;
    }
  }
  return unit;
}

/**
 * The units of one scope (its nodes and whole instances) in a topological order of the graph with
 * those instances contracted to one block each — the document's own graph, so acyclic. The flat
 * order may run an outside node between an instance's inner nodes (one of its inputs comes late);
 * a stable Kahn sort keeps the flat order wherever it can and takes each instance whole.
 */
function unitOrder(ids: string[], scope: string, walk: Walk, blocks: ExplainBlock[]): string[] {
  const unit = new Map(ids.map((id) => [id, unitOf(id, scope, blocks)]));
  const deps = new Map<string, Set<string>>();
  for (const id of ids) {
    const u = unit.get(id) as string;
    const mine = deps.get(u) ?? new Set<string>();
    deps.set(u, mine);
    for (const key of Object.values(walk.byId[id]?.sources ?? {})) {
      const v = unit.get(nodeOfKey(key));
      if (v !== undefined && v !== u) mine.add(v);
    }
  }
  const units = [...deps.keys()];
  const done = new Set<string>();
  const out: string[] = [];
  while (out.length < units.length) {
    const ready = (u: string) => !done.has(u) && [...(deps.get(u) ?? [])].every((d) => done.has(d));
    const next = units.find(ready) ?? (units.find((u) => !done.has(u)) as string);
    done.add(next);
    out.push(next);
  }
  return out;
}

/** The steps of one direction through a scope: nodes, instances stepped over, and the inner
 * steps of instances stepped into (recursively: modules nest). */
function sequence(
  kind: Direction,
  ids: string[],
  scope: string,
  walk: Walk,
  blocks: ExplainBlock[],
): Step[] {
  const order = unitOrder(ids, scope, walk, blocks);
  if (kind === "backward") order.reverse();
  const into = new Set(walk.into);
  const steps: Step[] = [];
  for (const u of order) {
    const b = walk.blocks[u];
    if (!b) {
      if (kind === "forward" || hasGradient(walk.byId[u])) steps.push({ kind, node: u });
    } else if (into.has(intoKey(kind, u))) {
      steps.push(...sequence(kind, b.nodes, `${u}/`, walk, blocks));
    } else if (kind === "forward" || blockHasGradient(b)) {
      steps.push({ kind, node: u, block: true });
    }
  }
  return steps;
}

export function buildWalk(result: ExplainResult, into: readonly string[] = []): Walk {
  const blocks = result.blocks ?? [];
  const walk: Walk = {
    steps: [],
    forwardAt: {},
    backwardAt: {},
    updateAt: 0,
    byId: Object.fromEntries(result.nodes.map((n) => [n.id, n])),
    blocks: Object.fromEntries(blocks.map((b) => [b.id, b])),
    // only instances of this answer: a key kept from another graph means nothing here
    into: into.filter((k) =>
      blocks.some((b) => k === intoKey("forward", b.id) || k === intoKey("backward", b.id)),
    ),
  };
  const ids = result.nodes.map((n) => n.id);
  const hasCost = result.nodes.some((n) => n.category === "cost");
  const steps = [
    ...sequence("forward", ids, "", walk, blocks),
    ...(hasCost ? sequence("backward", ids, "", walk, blocks) : []),
  ];
  steps.forEach((step, i) => {
    if (step.kind === "update") return;
    const at = step.kind === "forward" ? walk.forwardAt : walk.backwardAt;
    // an instance stepped over: its inner values (or gradients) are all known after its step
    const covered = step.block ? walk.blocks[step.node].nodes : [step.node];
    for (const id of covered) {
      if (step.kind === "forward" || hasGradient(walk.byId[id])) at[id] = i + 1;
    }
  });
  if (hasCost && paramKeys(result).length > 0) {
    steps.push({ kind: "update" });
    walk.updateAt = steps.length;
  }
  walk.steps = steps;
  return walk;
}

/** The instances the step is inside (stepped into), outermost first. */
export function enclosing(walk: Walk, step: Step | null): ExplainBlock[] {
  if (!step || step.kind === "update") return [];
  return walk.into
    .filter((k) => k.startsWith(`${step.kind}:`))
    .map((k) => walk.blocks[k.slice(step.kind.length + 1)])
    .filter((b) => b !== undefined && step.node.startsWith(`${b.id}/`))
    .sort((a, b) => a.id.length - b.id.length);
}

/** The instance the backward walk takes whole that holds `node` but not `producer` (the
 * outermost), if any: a value made outside it and read inside is sent back by the block. */
export function wholeBlock(walk: Walk, node: string, producer: string): ExplainBlock | undefined {
  let found: ExplainBlock | undefined;
  for (const b of Object.values(walk.blocks)) {
    const holds = (id: string) => id.startsWith(`${b.id}/`);
    if (!holds(node) || holds(producer) || walk.into.includes(intoKey("backward", b.id))) continue;
    if (!found || b.id.length < found.id.length) found = b;
  }
  return found;
}

/** The instance "Step into" opens at `position`: the next step's, else the one just shown. */
export function intoTarget(walk: Walk, position: number): { kind: Direction; node: string } | null {
  for (const i of [position, position - 1]) {
    const s = walk.steps[i];
    if (i >= 0 && s && s.kind !== "update" && s.block) return s;
  }
  return null;
}

/** Step into: the walk with that instance (by default `intoTarget`'s) opened, at its first
 * inner step. */
export function stepInto(
  result: ExplainResult,
  walk: Walk,
  position: number,
  which: { kind: Direction; node: string } | null = null,
): { walk: Walk; position: number } | null {
  const target = which ?? intoTarget(walk, position);
  if (!target || !walk.blocks[target.node]) return null;
  const next = buildWalk(result, [...walk.into, intoKey(target.kind, target.node)]);
  const inside = (s: Step) => s.kind === target.kind && s.node.startsWith(`${target.node}/`);
  const first = next.steps.findIndex(inside);
  return first < 0 ? null : { walk: next, position: first + 1 };
}

/** Step out: the innermost instance around the current step taken whole again, at its step. */
export function stepOut(
  result: ExplainResult,
  walk: Walk,
  position: number,
): { walk: Walk; position: number } | null {
  const step = walk.steps[position - 1] ?? null;
  const around = enclosing(walk, step);
  const b = around[around.length - 1];
  if (!b || !step || step.kind === "update") return null;
  const key = intoKey(step.kind, b.id);
  const next = buildWalk(
    result,
    walk.into.filter((k) => k !== key),
  );
  const at = next.steps.findIndex((s) => s.kind === step.kind && s.node === b.id);
  return at < 0 ? null : { walk: next, position: at + 1 };
}

/** Every trainable parameter as `"node.name"`, in topological order of their nodes. */
export function paramKeys(result: ExplainResult): string[] {
  const keys: string[] = [];
  for (const id of result.order) {
    for (const name of Object.keys(result.state[id] ?? {})) keys.push(`${id}.${name}`);
  }
  return keys;
}

export function splitParam(key: string): [string, string] {
  const i = key.lastIndexOf(".");
  return [key.slice(0, i), key.slice(i + 1)];
}

/** w − η g, elementwise, keeping the nesting of w. */
export function updated(w: Tensor, g: Tensor, lr: number): Tensor {
  if (Array.isArray(w)) return w.map((x, i) => updated(x, (g as Tensor[])[i], lr));
  if (w === null || g === null || Array.isArray(g)) return null;
  return w - lr * g;
}

export const clampPosition = (position: number, walk: Walk | null) =>
  Math.max(0, Math.min(position, walk ? walk.steps.length : 0));
