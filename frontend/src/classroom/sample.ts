// The sample explain mode follows: typed values, or one row of a dataset, shaped for each feed.
import { fmt } from "./tex";
import type { ExplainFeed, Tensor } from "./types";

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Nest a flat list into `shape` (row-major, like NumPy). */
export function reshape(flat: number[], shape: number[]): Tensor {
  if (shape.length === 0) return flat[0];
  const [n, ...rest] = shape;
  const size = count(rest);
  return Array.from({ length: n }, (_, i) => reshape(flat.slice(i * size, (i + 1) * size), rest));
}

/** One feed's text as a batch of one sample, or an error in words. Numbers may be separated by
 * commas, spaces or newlines; brackets are ignored (so pasted JSON works). */
export function parseFeed(text: string, feed: ExplainFeed): { value?: Tensor; error?: string } {
  const tokens = text
    .replace(/[[\](){};]/g, " ")
    .split(/[\s,]+/)
    .filter(Boolean);
  const nums = tokens.map(Number);
  const bad = tokens.find((_, i) => !Number.isFinite(nums[i]));
  if (bad !== undefined) return { error: `${feed.id}: “${bad}” is not a number` };
  const want = count(feed.shape);
  if (nums.length !== want) {
    const shape = feed.shape.length ? `[${feed.shape.join(", ")}]` : "a scalar";
    return {
      error: `${feed.id} takes ${want} number${want === 1 ? "" : "s"} (${shape}); got ${nums.length}`,
    };
  }
  if (feed.dtype === "int" && nums.some((x) => !Number.isInteger(x) || x < 0)) {
    return { error: `${feed.id} is a class label: a whole number ≥ 0` };
  }
  return { value: [reshape(nums, feed.shape)] };
}

/** A batch of one as the text a person would type. */
export function feedText(batch: Tensor | undefined): string {
  const sample = Array.isArray(batch) ? batch[0] : batch;
  const flat = flatArray(sample);
  return flat.map((x) => fmt(x)).join(", ");
}

function flatArray(v: Tensor | undefined): number[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return [v];
  return v.flatMap(flatArray);
}

/** Feeds from one dataset row: `x` into the (single) input, `y` into the (single) target. */
export function feedsFromRow(
  feeds: ExplainFeed[],
  x: number[],
  y: unknown,
): { inputs?: Record<string, Tensor>; error?: string } {
  const ins = feeds.filter((f) => f.role === "input");
  const targets = feeds.filter((f) => f.role === "target");
  if (ins.length !== 1) return { error: "a dataset row feeds a graph with exactly one input" };
  const inputs: Record<string, Tensor> = {};
  if (count(ins[0].shape) !== x.length) {
    return {
      error: `the input ${ins[0].id} takes ${count(ins[0].shape)} numbers; rows have ${x.length}`,
    };
  }
  inputs[ins[0].id] = [reshape(x, ins[0].shape)];
  for (const t of targets) {
    const ys = flatArray(y as Tensor);
    if (count(t.shape) !== ys.length) {
      return {
        error: `the target ${t.id} takes ${count(t.shape)} numbers; the row's y has ${ys.length}`,
      };
    }
    inputs[t.id] = [reshape(ys, t.shape)];
  }
  return { inputs };
}
