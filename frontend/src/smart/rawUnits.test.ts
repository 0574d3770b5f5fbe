import { describe, expect, it } from "vitest";
import { toRawUnits } from "./rawUnits";

describe("learned parameters in raw units", () => {
  it("undoes the standardisation: the same map of the raw features", () => {
    const norm = { mean: [1, -2], std: [2, 0.5] };
    const W = [
      [1.5, -0.25],
      [0.5, 2],
    ];
    const b = [0.3, -1];
    const raw = toRawUnits(W, b, norm);
    // y(x) computed both ways at a raw point agrees
    const x = [3, 0.7];
    for (let o = 0; o < 2; o++) {
      const normed = W[o].reduce((a, w, i) => a + (w * (x[i] - norm.mean[i])) / norm.std[i], b[o]);
      const direct = raw.W[o].reduce((a, w, i) => a + w * x[i], raw.b[o]);
      expect(direct).toBeCloseTo(normed, 12);
    }
  });
  it("the notes' line: W=1.11, b=−0.63 on x' is about W=2, b=−0.5 on x", () => {
    // x uniform in [-1, 1]: std ≈ 0.577, mean ≈ 0
    const raw = toRawUnits([[1.1547]], [-0.5], { mean: [0], std: [0.57735] });
    expect(raw.W[0][0]).toBeCloseTo(2, 3);
    expect(raw.b[0]).toBeCloseTo(-0.5, 6);
  });
  it("keeps a constant feature (std 0) as it is, and works without a bias", () => {
    const raw = toRawUnits([[3]], undefined, { mean: [5], std: [0] });
    expect(raw).toEqual({ W: [[3]], b: [-15] });
  });
});
