// The loss landscape (POST /api/landscape): which parameter entries can be axes, the contour
// levels, the contour lines (marching squares) and the paths of the three descents. Pure
// functions: the panel draws them, the tests read them.
import type { components } from "../api/schema";

type S = components["schemas"];
export type LandscapeResult = S["LandscapeResult"];
export type Axis = { param: string; index: number[]; value: number };

type Nested = number | Nested[];

/** Every scalar entry of every trainable parameter, `lin.W[0,0]` style, with its value (at
 * most `max` of them: a big layer's entries are not useful axes one by one). */
export function entriesOf(state: Record<string, Record<string, unknown>>, max = 400): Axis[] {
  const out: Axis[] = [];
  const walk = (param: string, v: Nested, index: number[]) => {
    if (out.length >= max) return;
    if (!Array.isArray(v)) {
      out.push({ param, index, value: v });
      return;
    }
    for (let i = 0; i < v.length; i++) walk(param, v[i], [...index, i]);
  };
  for (const [nid, params] of Object.entries(state)) {
    for (const [name, v] of Object.entries(params)) walk(`${nid}.${name}`, v as Nested, []);
  }
  return out;
}

export const axisLabel = (a: { param: string; index: number[] }) =>
  a.index.length ? `${a.param}[${a.index.join(",")}]` : a.param;

/** `n` contour levels spread evenly in log(loss) between the grid's finite extremes. */
export function levels(loss: (number | null)[][], n = 12): number[] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const row of loss)
    for (const v of row) {
      if (v === null || !Number.isFinite(v) || v <= 0) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  if (!(lo < hi)) return [];
  const a = Math.log(lo);
  const b = Math.log(hi);
  return Array.from({ length: n }, (_, i) => Math.exp(a + ((b - a) * (i + 0.5)) / n));
}

export type Segment = [number, number, number, number];

/**
 * Marching squares: the segments where the grid crosses `level`, in grid coordinates
 * (column, row; fractional). Saddle cells are split by the cell's mean.
 */
export function contour(loss: (number | null)[][], level: number): Segment[] {
  const out: Segment[] = [];
  const rows = loss.length;
  const cols = loss[0]?.length ?? 0;
  const at = (t0: number, t1: number) => (level - t0) / (t1 - t0);
  for (let r = 0; r + 1 < rows; r++) {
    for (let c = 0; c + 1 < cols; c++) {
      const v = [loss[r][c], loss[r][c + 1], loss[r + 1][c + 1], loss[r + 1][c]];
      if (v.some((x) => x === null || !Number.isFinite(x))) continue;
      const [a, b, d, e] = v as number[]; // corners: top-left, top-right, bottom-right, bottom-left
      // crossing points on the edges: top, right, bottom, left
      const pts: [number, number][] = [];
      if (a < level !== b < level) pts.push([c + at(a, b), r]);
      if (b < level !== d < level) pts.push([c + 1, r + at(b, d)]);
      if (e < level !== d < level) pts.push([c + at(e, d), r + 1]);
      if (a < level !== e < level) pts.push([c, r + at(a, e)]);
      if (pts.length === 2) out.push([pts[0][0], pts[0][1], pts[1][0], pts[1][1]]);
      else if (pts.length === 4) {
        const centre = (a + b + d + e) / 4;
        // pair each crossing with its neighbour on the side the centre's value says
        if (centre < level === a < level) {
          out.push([...pts[0], ...pts[1]] as Segment, [...pts[2], ...pts[3]] as Segment);
        } else {
          out.push([...pts[0], ...pts[3]] as Segment, [...pts[1], ...pts[2]] as Segment);
        }
      }
    }
  }
  return out;
}

/** Grid coordinates (fractional column, row) of a point (a, b) of the parameter plane. */
export function toGrid(res: LandscapeResult, a: number, b: number): [number, number] {
  const [a0, a1] = [res.a[0], res.a[res.a.length - 1]];
  const [b0, b1] = [res.b[0], res.b[res.b.length - 1]];
  return [((a - a0) / (a1 - a0)) * (res.a.length - 1), ((b - b0) / (b1 - b0)) * (res.b.length - 1)];
}

export const PATHS: { key: "gd" | "sgd" | "minibatch"; label: string; colour: string }[] = [
  { key: "gd", label: "full-batch GD", colour: "#1b3fa0" },
  { key: "sgd", label: "SGD (batch 1)", colour: "#d9480f" },
  { key: "minibatch", label: "mini-batch SGD", colour: "#2b8a3e" },
];

/** The value of a parameter entry in a live snapshot's summaries (small arrays carry their
 * values: `data`, or `matrix` for a 2-D one), or null when the summary holds no values. */
export function entryValue(
  params: Record<string, Record<string, { data?: unknown; matrix?: unknown }>>,
  axis: { param: string; index: number[] },
): number | null {
  const i = axis.param.lastIndexOf(".");
  const summary = params[axis.param.slice(0, i)]?.[axis.param.slice(i + 1)];
  let v: unknown = summary?.data ?? summary?.matrix;
  if (v === undefined || v === null) return null;
  for (const k of axis.index) {
    if (!Array.isArray(v)) return null;
    v = v[k];
  }
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
