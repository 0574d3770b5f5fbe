import { describe, expect, it } from "vitest";
import { batchFromRows, masks, perSample, updateSettings } from "./batch";
import type { ExplainFeed, ExplainResult } from "./types";

const feeds: ExplainFeed[] = [
  { id: "x", role: "input", shape: [2], dtype: "float" },
  { id: "y", role: "target", shape: [], dtype: "int" },
];
const rows = {
  x: [
    [1, 2],
    [3, 4],
    [5, 6],
  ],
  y: [0, 1, 1],
};

describe("explain on a mini-batch", () => {
  it("takes P consecutive rows, wrapping", () => {
    const made = batchFromRows(feeds, rows, 2, 3);
    expect(made.inputs).toEqual({
      x: [
        [5, 6],
        [1, 2],
        [3, 4],
      ],
      y: [1, 0, 1],
    });
    expect(batchFromRows(feeds, { x: [[1]], y: [0] }, 0, 2).error).toMatch(/takes 2 numbers/);
  });

  it("names Nesterov as momentum with nesterov, like the training settings", () => {
    expect(updateSettings("nesterov", 0.1)).toEqual({
      optimizer: "momentum",
      lr: 0.1,
      nesterov: true,
    });
    expect(updateSettings("adam", 0.01)).toEqual({ optimizer: "adam", lr: 0.01 });
  });

  it("reads each sample's gradient, their mean and dropout's mask", () => {
    const result = {
      param_grads: { l: { W: [1, 2] } },
      batch: {
        size: 2,
        sample: 0,
        training: true,
        param_grads: {
          l: {
            W: [
              [0, 1],
              [2, 3],
            ],
          },
        },
      },
      nodes: [{ id: "d", op: "dropout", env: { mask: [0, 2] } }],
    } as unknown as ExplainResult;
    expect(perSample(result, "l.W")).toEqual({
      rows: [
        [0, 1],
        [2, 3],
      ],
      mean: [1, 2],
    });
    expect(masks(result)).toEqual({ d: [0, 2] });
  });
});
