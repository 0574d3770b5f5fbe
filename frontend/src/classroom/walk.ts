// The walk through one sample: forward over every node in topological order, backward over every
// node that has a gradient in reverse order, then the update step of a parameter. Position 0 is the
// start (nothing shown yet); position k shows steps[k - 1] and everything before it.
import type { ExplainNode, ExplainResult, Tensor } from "./types";

export type Step =
  | { kind: "forward"; node: string }
  | { kind: "backward"; node: string }
  | { kind: "update" };

export interface Walk {
  steps: Step[];
  /** node → position of its forward step (1-based) */
  forwardAt: Record<string, number>;
  /** node → position of its backward step (1-based), for nodes with a gradient */
  backwardAt: Record<string, number>;
  /** position of the update step, or 0 when the graph has no parameters */
  updateAt: number;
  byId: Record<string, ExplainNode>;
}

export const hasGradient = (n: ExplainNode) =>
  n.outputs.some((o) => o.grad !== undefined && o.grad !== null);

export function buildWalk(result: ExplainResult): Walk {
  const steps: Step[] = [];
  const forwardAt: Record<string, number> = {};
  const backwardAt: Record<string, number> = {};
  const byId: Record<string, ExplainNode> = {};
  for (const n of result.nodes) {
    byId[n.id] = n;
    steps.push({ kind: "forward", node: n.id });
    forwardAt[n.id] = steps.length;
  }
  const hasCost = result.nodes.some((n) => n.category === "cost");
  if (hasCost) {
    for (const n of [...result.nodes].reverse()) {
      if (!hasGradient(n)) continue;
      steps.push({ kind: "backward", node: n.id });
      backwardAt[n.id] = steps.length;
    }
  }
  let updateAt = 0;
  if (hasCost && paramKeys(result).length > 0) {
    steps.push({ kind: "update" });
    updateAt = steps.length;
  }
  return { steps, forwardAt, backwardAt, updateAt, byId };
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
