import { describe, expect, it } from "vitest";
import { lighten } from "./light";
import { drawnOf, shownAs } from "./shown";
import type { SnapshotFrame, TensorSummary } from "./types";

const s = (shape: number[], extra: Partial<TensorSummary> = {}): TensorSummary => ({
  shape,
  batch: 8,
  nonfinite: 0,
  mean: 0.5,
  std: 1,
  min: -1,
  max: 2,
  norm: 3,
  hist: { edges: [-1, 0, 1, 2], counts: [3, 5, 1] },
  ...extra,
});

const grid = (c: number, h: number, w: number) =>
  Array.from({ length: c }, () => Array.from({ length: h }, () => Array(w).fill(0.5)));

const cases: [string, TensorSummary, string, RegExp][] = [
  ["a cost", s([], { data: 0.5 }), "scalar", /^the mean over the last batch/],
  [
    "a small vector",
    s([10], { data: Array(10).fill(1) }),
    "data",
    /^one sample's values as a heatmap/,
  ],
  [
    "a conv layer",
    s([16, 8, 8], { maps: grid(16, 8, 8) }),
    "maps",
    /^one sample's 16 channel maps \(8×8\)/,
  ],
  [
    "one channel",
    s([1, 8, 8], { maps: grid(1, 8, 8) }),
    "maps",
    /^one sample's 1 channel map \(8×8\)/,
  ],
  ["a wide layer", s([256]), "hist", /^a histogram over the last batch/],
  ["two numbers", s([2], { data: [1, 2] }), "hist", /^a histogram over the last batch/],
];

describe("what a node's view draws, said on hover", () => {
  it.each(cases)("%s", (_name, value, kind, text) => {
    expect(drawnOf(value).kind).toBe(kind);
    expect(shownAs({ value, grad: null })).toMatch(text);
  });

  it("says the same of a light summary, which has no values left", () => {
    for (const [, value, kind, text] of cases) {
      const snap: SnapshotFrame = {
        type: "snapshot",
        step: 1,
        epoch: 0,
        nodes: { n: { value, grad: value } },
        params: {},
      };
      const light = lighten(snap, new Set()).nodes.n;
      expect(light.value.maps).toBeUndefined();
      expect(light.value.data).toBeUndefined();
      expect(drawnOf(light.value).kind).toBe(kind);
      expect(shownAs(light)).toMatch(text);
    }
  });

  it("says whose plots they are in each live mode", () => {
    const conv = s([16, 8, 8], { maps: grid(16, 8, 8) });
    const n = { value: conv, grad: conv };
    expect(shownAs(n, "value")).toBe(
      "one sample's 16 channel maps (8×8); ‖v‖, ‖g‖: norms over the last batch",
    );
    expect(shownAs(n, "grad")).toMatch(/^one sample's 16 channel maps \(8×8\), of the gradient/);
    expect(shownAs(n, "both")).toMatch(/: the value above, the gradient ∂L\/∂value below;/);
    const cost = { value: s([], { data: 0.5 }), grad: null };
    expect(shownAs(cost, "both")).toBe(shownAs(cost, "value"));
  });

  it("before any snapshot", () => {
    expect(shownAs(undefined)).toBe("no snapshot yet");
  });
});
