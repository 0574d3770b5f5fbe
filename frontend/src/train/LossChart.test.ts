import type uPlot from "uplot";
import { describe, expect, it } from "vitest";
import { latestIdxs, penaltiesOf } from "./LossChart";

describe("the loss chart's legend off the plot", () => {
  it("points each curve at its own latest value, skipping the gaps at its end", () => {
    // step, batch loss (every step), train and test loss (each epoch), accuracy (none yet)
    const data = [
      [1, 2, 3, 4, 5],
      [0.9, 0.8, 0.7, 0.6, 0.5],
      [null, null, 0.75, null, null],
      [null, null, 0.8, null, null],
      [null, null, null, null, null],
    ] as unknown as uPlot.AlignedData;
    expect(latestIdxs(data)).toEqual([4, 4, 2, 2, null]);
  });
});

describe("the note on penalties", () => {
  it("says which of L1 and L2 are not in the plotted loss", () => {
    expect(penaltiesOf({ l1: 0, l2: 0 })).toBeNull();
    expect(penaltiesOf({ l1: 0.01, l2: 0 })).toBe("L1");
    expect(penaltiesOf({ l1: 0.01, l2: 0.1 })).toBe("L1 and L2");
    expect(penaltiesOf(null)).toBeNull();
  });
});
