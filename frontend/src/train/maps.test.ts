import { describe, expect, it } from "vitest";
import { type Ctx2D, drawNode, NODE_W } from "./draw";
import { drawMaps, mapGrid, mapsScale } from "./maps";
import type { NodeSummary, TensorSummary } from "./types";

/** A 2-D context that records its filled rectangles and their colours. */
function recorder() {
  const rects: { x: number; y: number; w: number; h: number; fill: string }[] = [];
  const ctx = {
    fillStyle: "",
    font: "",
    textBaseline: "",
    fillRect(x: number, y: number, w: number, h: number) {
      rects.push({ x, y, w, h, fill: String(this.fillStyle) });
    },
    fillText() {},
    measureText: () => ({ width: 30 }),
  };
  return { ctx: ctx as unknown as Ctx2D, rects };
}

const maps = (
  c: number,
  h: number,
  w: number,
  f: (k: number, i: number, j: number) => number,
): (number | null)[][][] =>
  Array.from({ length: c }, (_, k) =>
    Array.from({ length: h }, (_, i) => Array.from({ length: w }, (_, j) => f(k, i, j))),
  );

const conv = (extra: Partial<TensorSummary> = {}): TensorSummary => ({
  shape: [16, 8, 8],
  batch: 32,
  nonfinite: 0,
  mean: 0,
  std: 1,
  min: -2,
  max: 2,
  norm: 10,
  hist: { edges: [-2, 0, 2], counts: [5, 5] },
  maps: maps(16, 8, 8, (k, i, j) => k - 8 + i / 10 + j / 100),
  ...extra,
});

describe("mapGrid", () => {
  it("lays 16 maps of 8×8 as 8 × 2 in a node's plot, one row of 16 in half of it", () => {
    const g = mapGrid(16, 8, 8, 120, 26);
    expect([g.cols, g.rows]).toEqual([8, 2]);
    expect(g.side * 8 * 2 + g.gap).toBeLessThanOrEqual(26 + 1e-9);
    expect(g.side * 8 * 8 + 7 * g.gap).toBeLessThanOrEqual(120 + 1e-9);
    const half = mapGrid(16, 8, 8, 120, 12);
    expect([half.cols, half.rows]).toEqual([16, 1]);
  });

  it("fits every count and shape inside the box, centred", () => {
    for (const [c, mh, mw] of [
      [1, 8, 8],
      [3, 16, 16],
      [7, 4, 12],
      [32, 8, 8],
    ]) {
      const g = mapGrid(c, mh, mw, 120, 26);
      expect(g.cols * g.rows).toBeGreaterThanOrEqual(c);
      expect(g.cols * g.rows - c).toBeLessThan(g.cols); // no empty row
      const gw = g.cols * mw * g.side + g.gap * (g.cols - 1);
      const gh = g.rows * mh * g.side + g.gap * (g.rows - 1);
      expect(gw).toBeLessThanOrEqual(120 + 1e-9);
      expect(gh).toBeLessThanOrEqual(26 + 1e-9);
      expect(g.x0).toBeCloseTo((120 - gw) / 2);
      expect(g.y0).toBeCloseTo((26 - gh) / 2);
    }
  });
});

describe("drawMaps", () => {
  it("draws every cell of every channel on one scale, non-finite in black", () => {
    const m = maps(2, 2, 2, (k, i, j) => (k ? 4 : 1) * (i * 2 + j - 1));
    m[0][0][0] = null;
    expect(mapsScale(m)).toBe(8);
    const { ctx, rects } = recorder();
    const seen: number[] = [];
    drawMaps(ctx, m, 0, 0, 40, 20, (t) => {
      seen.push(t);
      return `c${t}`;
    });
    expect(rects).toHaveLength(8);
    expect(rects[0].fill).toBe("#000");
    // channel 0's largest value (2) is a quarter of the layer's scale: channels compare
    expect(seen).toContain(2 / 8);
    expect(seen).toContain(1);
    // the second channel sits to the right of the first, apart
    const g = mapGrid(2, 2, 2, 40, 20);
    expect(rects[4].x).toBeCloseTo(g.x0 + 2 * g.side + g.gap);
    for (const r of rects) {
      expect(r.x).toBeGreaterThanOrEqual(0);
      expect(r.x + r.w).toBeLessThanOrEqual(40 + 1e-9);
      expect(r.y + r.h).toBeLessThanOrEqual(20 + 1e-9);
    }
  });
});

describe("drawNode with channel maps", () => {
  const node: NodeSummary = { value: conv(), grad: conv({ norm: 0.1 }) };
  const cells = 16 * 8 * 8;

  it("draws the value's maps as one grid", () => {
    const { ctx, rects } = recorder();
    drawNode(ctx, node, "value");
    expect(rects).toHaveLength(cells);
    expect(Math.max(...rects.map((r) => r.x + r.w))).toBeLessThanOrEqual(NODE_W + 1e-9);
  });

  it("draws two grids in mode both, the gradient's below the value's, each with its stripe", () => {
    const { ctx, rects } = recorder();
    drawNode(ctx, node, "both");
    expect(rects).toHaveLength(2 * cells + 2);
    const grid = rects.filter((r) => r.x >= 5); // the stripes are at x = 0
    const ys = grid.map((r) => r.y);
    const mid = 14;
    expect(grid.filter((r) => r.y < mid)).toHaveLength(cells);
    expect(grid.filter((r) => r.y >= mid)).toHaveLength(cells);
    expect(Math.min(...ys)).toBeGreaterThanOrEqual(0);
  });

  it("falls back to the histogram without maps", () => {
    const { ctx, rects } = recorder();
    drawNode(ctx, { value: conv({ maps: null }), grad: null }, "value");
    expect(rects.length).toBeLessThan(10);
  });
});
