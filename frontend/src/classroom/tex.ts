// Numbers and rules as LaTeX: values of one sample as vectors and matrices, and an op's explain
// templates (from GET /api/ops) with symbols or with the numbers plugged in. Nothing here knows an
// op: a template names values (`@W`, `@g`, `@g.y1`), the explain answer supplies them.
import type { Tensor } from "./types";

/** `@name` or `@g.y1`, as the engine's registry declares them (`PLACEHOLDER`). */
const PLACEHOLDER = /@([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?)/g;
/** `@[ … @]`: dropped when a value it names is absent (Linear without bias). */
const OPTIONAL = /@\[([\s\S]*?)@\]/g;

export const MAX_ROWS = 6;
export const MAX_COLS = 6;

/** Four significant digits, no trailing zeros; exponents as `1.2e-5`. */
export function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return "NaN";
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "NaN" : x > 0 ? "∞" : "−∞";
  if (Number.isInteger(x) && Math.abs(x) < 1e6) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) {
    const [m, e] = x.toExponential(2).split("e");
    return `${Number(m)}e${Number(e)}`;
  }
  return String(Number(x.toPrecision(4)));
}

/** A number as LaTeX (`1.2e-5` → `1.2\times10^{-5}`). */
export function texNumber(x: number | null | undefined): string {
  const s = fmt(x);
  const m = /^(-?[\d.]+)e(-?\d+)$/.exec(s);
  if (m) return `${m[1]}\\times10^{${m[2]}}`;
  if (s === "∞") return "\\infty";
  if (s === "−∞") return "-\\infty";
  if (s === "NaN") return "\\text{NaN}";
  return s;
}

export function shapeOf(v: Tensor | undefined): number[] {
  const shape: number[] = [];
  let cur: Tensor | undefined = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

export function flatten(v: Tensor | undefined): (number | null)[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) return [v];
  return v.flatMap((x) => flatten(x));
}

/** Indices to show of `n`, with `-1` for an ellipsis: the first `max - 1` and the last. */
function pick(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return [...Array.from({ length: max - 2 }, (_, i) => i), -1, n - 1];
}

/**
 * A value as LaTeX: a number, a column vector, a matrix, or (3-D and up) its shape. Long vectors
 * and big matrices show their corners with dots. `paren` wraps negative numbers, for products.
 */
export function texValue(v: Tensor | undefined, paren = false): string {
  if (v === undefined) return "\\,?\\,";
  if (!Array.isArray(v)) {
    const s = texNumber(v);
    return paren && s.startsWith("-") ? `(${s})` : s;
  }
  const shape = shapeOf(v);
  if (shape.length === 1) {
    const rows = pick(shape[0], MAX_ROWS + 1).map((i) =>
      i < 0 ? "\\vdots" : texNumber(v[i] as number),
    );
    return `\\begin{bmatrix}${rows.join("\\\\")}\\end{bmatrix}`;
  }
  if (shape.length === 2) {
    const cols = pick(shape[1], MAX_COLS);
    const rows = pick(shape[0], MAX_ROWS).map((i) =>
      cols
        .map((j) => {
          if (i < 0) return j < 0 ? "\\ddots" : "\\vdots";
          if (j < 0) return "\\cdots";
          return texNumber((v[i] as Tensor[])[j] as number);
        })
        .join("&"),
    );
    return `\\begin{bmatrix}${rows.join("\\\\")}\\end{bmatrix}`;
  }
  return `\\left[\\,${shape.join("\\times")}\\ \\text{array}\\,\\right]`;
}

/** A short plain-text view for a chip on a node: `[0.12, −0.5, 1.3]`, `[0.12, −0.5, … 60]`. */
export function compact(v: Tensor | undefined, max = 3): string {
  if (v === undefined) return "";
  if (!Array.isArray(v)) return fmt(v);
  const flat = flatten(v);
  const shape = shapeOf(v);
  if (shape.length === 1 && flat.length <= max) return `[${flat.map(fmt).join(", ")}]`;
  const head = flat.slice(0, 2).map(fmt).join(", ");
  return `[${head}, … ${shape.join("×")}]`;
}

/** Names a template uses. */
export function placeholders(tpl: string): string[] {
  return [...tpl.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** `W1` → `W_{1}`, `x` → `x`, `logits` → `\mathrm{logits}`. */
export function defaultSymbol(name: string): string {
  const m = /^([A-Za-z])(\d+)$/.exec(name);
  if (m) return `${m[1]}_{${m[2]}}`;
  if (/^[A-Za-z]$/.test(name)) return name;
  return `\\mathrm{${name.replace(/_/g, "\\_")}}`;
}

/** The symbol of a template name, given the op's `symbols` (from GET /api/ops). */
export function symbolOf(name: string, symbols: Record<string, string> = {}): string {
  if (symbols[name]) return symbols[name];
  if (name === "ans") return "z"; // the notes: a block computes z; y is the desired output
  if (name.startsWith("ans.")) return defaultSymbol(name.slice(4));
  if (name === "g") return `\\frac{\\partial C}{\\partial ${symbolOf("ans", symbols)}}`;
  if (name.startsWith("g.")) {
    return `\\frac{\\partial C}{\\partial ${symbolOf(`ans.${name.slice(2)}`, symbols)}}`;
  }
  return defaultSymbol(name);
}

/** dC/d(name), the left-hand side of a VJP rule. */
export function gradSymbol(name: string, symbols: Record<string, string> = {}): string {
  return `\\frac{\\partial C}{\\partial ${symbolOf(name, symbols)}}`;
}

export type Lookup = (name: string) => Tensor | string | boolean | undefined;

/**
 * Fills a template: `symbolic` puts each name's symbol, `numeric` its value for the sample.
 * Optional segments `@[ … @]` stay only when every value they name is present.
 */
export function fillTemplate(
  tpl: string,
  mode: "symbolic" | "numeric",
  lookup: Lookup,
  symbols: Record<string, string> = {},
): string {
  const present = (name: string) => {
    const v = lookup(name);
    return v !== undefined && v !== null;
  };
  const kept = tpl.replace(OPTIONAL, (_, inner: string) =>
    placeholders(inner).every(present) ? inner : "",
  );
  return kept.replace(PLACEHOLDER, (_, name: string) => {
    if (mode === "symbolic") return `{${symbolOf(name, symbols)}}`;
    const v = lookup(name);
    if (typeof v === "string") return `\\text{${v.replace(/[\\{}_^$&#%~]/g, "")}}`;
    if (typeof v === "boolean") return v ? "1" : "0";
    return `{${texValue(v, true)}}`;
  });
}
