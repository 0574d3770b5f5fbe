import { describe, expect, it } from "vitest";
import {
  axisLabel,
  contour,
  entriesOf,
  entryValue,
  type LandscapeResult,
  levels,
  toGrid,
} from "./landscape";

describe("the loss landscape's drawing", () => {
  it("lists every scalar entry of the parameters", () => {
    const e = entriesOf({ lin: { W: [[2]], b: [-0.5] } });
    expect(e).toEqual([
      { param: "lin.W", index: [0, 0], value: 2 },
      { param: "lin.b", index: [0], value: -0.5 },
    ]);
    expect(axisLabel(e[0])).toBe("lin.W[0,0]");
  });

  it("spreads levels in log loss and finds where a bowl crosses them", () => {
    // a bowl: (x - 1)² + (y - 1)² on a 3×3 grid, minimum in the middle
    const grid = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (c - 1) ** 2 + (r - 1) ** 2 + 0.1));
    const ls = levels(grid, 4);
    expect(ls).toHaveLength(4);
    expect(ls[0]).toBeGreaterThan(0.1);
    expect(ls[3]).toBeLessThan(2.1);
    const segs = contour(grid, 0.6); // a ring around the centre: one segment per cell
    expect(segs).toHaveLength(4);
    for (const [x0, y0, x1, y1] of segs) {
      for (const [x, y] of [
        [x0, y0],
        [x1, y1],
      ]) {
        expect(Math.hypot(x - 1, y - 1)).toBeLessThan(1); // inside the grid, near the centre
      }
    }
    expect(contour(grid, 100)).toEqual([]);
  });

  it("maps the parameter plane onto the grid", () => {
    const res = { a: [0, 1, 2], b: [-1, 0, 1] } as unknown as LandscapeResult;
    expect(toGrid(res, 1, 0)).toEqual([1, 1]);
    expect(toGrid(res, 2, -1)).toEqual([2, 0]);
  });
});

describe("the live run on the landscape", () => {
  it("reads an entry from the snapshot's small arrays", () => {
    const params = { lin: { W: { matrix: [[1.5]] }, b: { data: [-0.25] }, P: { data: null } } };
    expect(entryValue(params, { param: "lin.W", index: [0, 0] })).toBe(1.5);
    expect(entryValue(params, { param: "lin.b", index: [0] })).toBe(-0.25);
    expect(entryValue(params, { param: "lin.P", index: [0] })).toBeNull();
    expect(entryValue(params, { param: "nope.W", index: [] })).toBeNull();
  });
});
