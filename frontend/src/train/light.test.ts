import { describe, expect, it } from "vitest";
import { isLight, isLightBoundary, lightBoundary, lighten } from "./light";
import { indexSnapshot } from "./snapshot";
import type { BoundaryFrame, SnapshotFrame, TensorSummary } from "./types";

const summary = (norm: number, extra: Partial<TensorSummary> = {}): TensorSummary => ({
  shape: [4],
  batch: 8,
  nonfinite: 0,
  mean: 0.5,
  std: 1,
  min: -1,
  max: 2,
  norm,
  hist: { edges: [-1, 0, 1, 2], counts: [3, 5, 1] },
  data: [0.1, 0.2, 0.3, 0.4],
  ...extra,
});

const weight = (norm: number): TensorSummary => ({
  ...summary(norm, { shape: [4, 2], batch: null }),
  matrix: [
    [1, 2],
    [3, 4],
    [5, 6],
    [7, 8],
  ],
});

const snap: SnapshotFrame = {
  type: "snapshot",
  step: 7,
  epoch: 1,
  nodes: {
    x: { value: summary(1), grad: null },
    l1: { value: summary(3), grad: summary(0.3) },
    "split:a": { value: summary(2), grad: summary(0.2) },
    "split:b": { value: summary(5), grad: summary(0.5) },
  },
  params: { l1: { W: weight(2), b: summary(1) }, l2: { W: weight(4) } },
  param_grads: { l1: { W: weight(0.2) }, l2: { W: weight(0.4) } },
};

describe("lighten", () => {
  it("keeps the statistics of every node and drops histograms, values and matrices", () => {
    const light = lighten(snap, new Set());
    const v = light.nodes.l1.value;
    expect(isLight(v)).toBe(true);
    expect(v.hist.counts).toEqual([]);
    expect(v.data).toBeUndefined();
    expect([v.mean, v.std, v.min, v.max, v.norm, v.nonfinite]).toEqual([0.5, 1, -1, 2, 3, 0]);
    expect(light.nodes.x.grad).toBeNull();
    const W = light.params.l1.W;
    expect(isLight(W)).toBe(true);
    expect(W.matrix).toBeUndefined();
    expect([W.shape, W.norm]).toEqual([[4, 2], 2]);
    expect(isLight(light.param_grads?.l2.W)).toBe(true);
    // the snapshot itself is untouched (the worker draws from it)
    expect(snap.nodes.l1.value.data).toHaveLength(4);
  });

  it("sends the nodes asked for in full whole, every output of them", () => {
    const light = lighten(snap, new Set(["l1", "split"]));
    expect(light.nodes.l1).toBe(snap.nodes.l1);
    expect(light.nodes["split:b"]).toBe(snap.nodes["split:b"]);
    expect(light.params.l1).toBe(snap.params.l1);
    expect(light.param_grads?.l1).toBe(snap.param_grads?.l1);
    expect(isLight(light.nodes.x.value)).toBe(true);
    expect(isLight(light.params.l2.W)).toBe(true);
  });

  it("leaves what the page computes from a snapshot as it was", () => {
    const full = indexSnapshot(snap);
    const light = indexSnapshot(lighten(snap, new Set()));
    expect(light.levels).toEqual(full.levels);
    expect(Object.keys(light.nodes).sort()).toEqual(Object.keys(full.nodes).sort());
    expect(light.nodes.split.value.norm).toBe(full.nodes.split.value.norm);
  });
});

describe("lightBoundary", () => {
  const frame = (kind: "class" | "value"): BoundaryFrame =>
    ({
      type: "boundary",
      step: 12,
      kind,
      x0: [0, 1],
      x1: [0, 1],
      z: [
        [0.5, 3],
        [-1, 2],
      ],
      points: { train: [[0, 0, 4]], test: [[1, 1, -2]] },
    }) as unknown as BoundaryFrame;

  it("keeps the step and kind, and a regression's range of colours", () => {
    const b = lightBoundary(frame("value"));
    expect(isLightBoundary(b)).toBe(true);
    expect([b.step, b.kind, b.z, b.points.train]).toEqual([12, "value", [], []]);
    expect((b as { range?: number[] }).range).toEqual([-2, 4]);
    expect((lightBoundary(frame("class")) as { range?: number[] }).range).toBeUndefined();
    expect(isLightBoundary(frame("class"))).toBe(false);
  });
});
