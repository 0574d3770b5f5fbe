// Both Jacobians of a block at one sample (POST /api/jacobian), as the explain card shows
// them: one matrix per input port and per parameter, its dimensions, whether it is diagonal
// (pointwise blocks), and the check that g·J equals the VJP the backward step computed.
import type { components } from "../api/schema";
import { texNumber } from "./tex";

type S = components["schemas"];
export type JacobianMatrix = Known<S["JacobianMatrix"]>;
type Known<T> = { [K in keyof T as string extends K ? never : K]: T[K] };
export type JacobianResult = Omit<Known<S["JacobianResult"]>, "wrt"> & {
  wrt: Record<string, JacobianMatrix>;
};

/** The largest matrix drawn cell by cell; bigger ones are drawn as shaded cells only. */
export const MAX_NUMBERED = 8 * 8;

/** `∂z/∂x` or `∂z/∂W`: the block's output symbol is z (the notes' convention). */
export function jacobianSymbol(name: string, kind: JacobianMatrix["kind"]): string {
  const sym = /^[A-Za-z]$/.test(name) ? name : `\\mathrm{${name.replace(/_/g, "\\_")}}`;
  const what = kind === "parameter" ? "parameter" : "input";
  return `\\frac{\\partial z}{\\partial ${sym}} \\quad [d_{\\text{out}} \\times d_{\\text{${what}}}]`;
}

/** g·J, the vector-Jacobian product built from the matrix. */
export function gTimesJ(g: number[], J: number[][]): number[] {
  const cols = J[0]?.length ?? 0;
  const out = new Array<number>(cols).fill(0);
  for (let i = 0; i < J.length; i++) {
    for (let j = 0; j < cols; j++) out[j] += (g[i] ?? 0) * J[i][j];
  }
  return out;
}

/** The largest difference between g·J and the VJP backward computed, relative to their size. */
export function vjpError(g: number[], m: JacobianMatrix): number {
  const gj = gTimesJ(g, m.value);
  let worst = 0;
  for (let j = 0; j < gj.length; j++) {
    const scale = Math.max(1, Math.abs(gj[j]), Math.abs(m.vjp[j] ?? 0));
    worst = Math.max(worst, Math.abs(gj[j] - (m.vjp[j] ?? 0)) / scale);
  }
  return worst;
}

/** Cell shading in [-1, 1]: each entry over the largest magnitude of the matrix. */
export function shades(J: number[][]): number[][] {
  let top = 0;
  for (const row of J) for (const v of row) top = Math.max(top, Math.abs(v));
  return J.map((row) => row.map((v) => (top > 0 ? v / top : 0)));
}

/** A one-line summary: `[2 × 3], diagonal` and what it means. */
export function describe(m: JacobianMatrix): string {
  const [rows, cols] = m.shape;
  const dims = `[${rows} × ${cols}]`;
  if (m.diagonal)
    return `${dims}, diagonal: a pointwise block (each output depends on its own input only)`;
  return dims;
}

export const cellText = (v: number) => texNumber(v);
