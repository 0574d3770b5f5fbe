// Explain on a mini-batch (POST /api/explain with P rows): the rows fed, and what the card
// reads from the answer. Pure functions: the card renders them, the tests read them.
import type { components } from "../api/schema";
import { feedsFromRow } from "./sample";
import type { ExplainFeed, ExplainResult, Tensor } from "./types";

type S = components["schemas"];
export type UpdateSettings = S["ExplainUpdate"];
export type Method = "sgd" | "momentum" | "nesterov" | "adam";

/** The most samples explain walks at once (the server's limit too). */
export const MAX_BATCH = 16;

/** The optimiser settings of a method, as the training settings name them. */
export function updateSettings(method: Method, lr: number): UpdateSettings {
  if (method === "nesterov") return { optimizer: "momentum", lr, nesterov: true };
  return { optimizer: method, lr };
}

/** P consecutive dataset rows (wrapping) as one batch per feed, or why they do not fit. */
export function batchFromRows(
  feeds: ExplainFeed[],
  rows: { x: number[][]; y: unknown[] },
  start: number,
  P: number,
): { inputs?: Record<string, Tensor[]>; error?: string } {
  const n = rows.x.length;
  if (n === 0) return { error: "the dataset has no rows" };
  const inputs: Record<string, Tensor[]> = {};
  for (let i = 0; i < P; i++) {
    const r = (((start + i) % n) + n) % n;
    const made = feedsFromRow(feeds, rows.x[r], rows.y[r]);
    if (made.error || !made.inputs) return { error: made.error ?? "a row does not fit" };
    for (const [id, batch] of Object.entries(made.inputs)) {
      if (!inputs[id]) inputs[id] = [];
      inputs[id].push((batch as Tensor[])[0]);
    }
  }
  return { inputs };
}

/** `node.name` keys of the parameters, in the answer's order. */
export function paramKeysOf(result: ExplainResult): string[] {
  return Object.entries(result.param_grads).flatMap(([nid, p]) =>
    Object.keys(p).map((k) => `${nid}.${k}`),
  );
}

const splitKey = (key: string): [string, string] => {
  const i = key.lastIndexOf(".");
  return [key.slice(0, i), key.slice(i + 1)];
};

/** Each sample's ∂C_p/∂w and their mean ∂L/∂w for one parameter. */
export function perSample(
  result: ExplainResult,
  key: string,
): { rows: Tensor[]; mean: Tensor } | null {
  const [nid, name] = splitKey(key);
  const batch = (result as { batch?: { param_grads: Record<string, Record<string, Tensor>> } })
    .batch;
  const rows = batch?.param_grads[nid]?.[name];
  const mean = result.param_grads[nid]?.[name];
  if (!Array.isArray(rows) || mean === undefined) return null;
  return { rows: rows as Tensor[], mean };
}

/** Dropout masks in the walked sample (training mode): node id → m. */
export function masks(result: ExplainResult): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const n of result.nodes) {
    if (n.op === "dropout" && n.env.mask !== undefined) out[n.id] = n.env.mask as Tensor;
  }
  return out;
}
