import { describe, expect, it } from "vitest";
import {
  describe as describeMatrix,
  gTimesJ,
  type JacobianMatrix,
  shades,
  vjpError,
} from "./jacobian";

const sigmoid: JacobianMatrix = {
  kind: "input",
  in_shape: [2],
  shape: [2, 2],
  value: [
    [0.25, 0],
    [0, 0.1966],
  ],
  diagonal: true,
  vjp: [0.5 * 0.25, -1 * 0.1966],
};

describe("the Jacobian view's arithmetic", () => {
  it("g·J is the VJP, row by column", () => {
    expect(gTimesJ([0.5, -1], sigmoid.value)).toEqual([0.125, -0.1966]);
    expect(vjpError([0.5, -1], sigmoid)).toBeLessThan(1e-12);
    expect(vjpError([1, 1], sigmoid)).toBeGreaterThan(0.1);
  });

  it("says a pointwise block's matrix is diagonal, with its dimensions", () => {
    expect(describeMatrix(sigmoid)).toMatch(/^\[2 × 2\], diagonal/);
    const linear = {
      ...sigmoid,
      diagonal: false,
      shape: [2, 3],
      value: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    };
    expect(describeMatrix(linear)).toBe("[2 × 3]");
  });

  it("shades each entry by its size, zero white", () => {
    expect(
      shades([
        [2, 0],
        [0, -4],
      ]),
    ).toEqual([
      [0.5, 0],
      [0, -1],
    ]);
  });
});
