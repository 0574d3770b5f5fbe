import { describe, expect, it } from "vitest";
import { join, Series } from "./series";
import type { MetricPoint } from "./types";

const pt = (step: number, extra: Partial<MetricPoint> = {}): MetricPoint => ({
  step,
  epoch: Math.ceil(step / 10),
  loss: 1 / step,
  lr: 0.1,
  ...extra,
});

describe("Series", () => {
  it("keeps every step's loss and every epoch's metrics, aligned on steps", () => {
    const s = new Series();
    const points = Array.from({ length: 20 }, (_, i) =>
      (i + 1) % 10 === 0
        ? pt(i + 1, { train_loss: 0.5, full_loss: 0.45, test_loss: 0.6, accuracy: 0.9 })
        : pt(i + 1),
    );
    s.push(points);
    const [x, loss, train, full, test, acc] = s.columns("step");
    expect(x).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(loss[0]).toBe(1);
    expect(train.filter((v) => v !== null)).toEqual([0.5, 0.5]);
    // L(S, w) at the epoch's end, beside the mean of its batch losses
    expect(full.filter((v) => v !== null)).toEqual([0.45, 0.45]);
    expect(full[9]).toBe(0.45);
    expect(test[9]).toBe(0.6);
    expect(acc[19]).toBe(0.9);
    expect(s.lastAccuracy).toBe(0.9);
    const [ex, , etrain] = s.columns("epoch");
    expect(ex).toEqual([1, 2]);
    expect(etrain).toEqual([0.5, 0.5]);
  });

  it("stays bounded on long runs", () => {
    const s = new Series();
    for (let i = 1; i <= 50_000; i += 1000) {
      s.push(Array.from({ length: 1000 }, (_, k) => pt(i + k)));
    }
    const [x] = s.columns("step");
    expect(x.length).toBeLessThanOrEqual(6000);
    expect(x[0]).toBe(1);
    expect(x.at(-1)).toBeGreaterThan(49_000);
    expect(s.count).toBe(50_000);
  });

  it("measures steps per second on the worker's clock", () => {
    const s = new Series();
    s.push([pt(1, { t: 100 }), pt(2, { t: 100.1 })]);
    s.push([pt(50, { t: 101 })]);
    expect(s.speed(101)).toBeCloseTo(48 / 0.9, 3); // from the last point of each batch
    expect(s.speed(110)).toBe(0); // nothing lately
  });

  it("treats a non-finite loss as a gap", () => {
    const s = new Series();
    s.push([pt(1, { loss: null })]);
    expect(s.columns("step")[1]).toEqual([null]);
  });
});

describe("join", () => {
  it("aligns tables on the union of their xs", () => {
    const [x, cols] = join([
      [[1, 3], [[10, 30]]],
      [
        [2, 3],
        [
          [20, 31],
          [0, 1],
        ],
      ],
    ]);
    expect(x).toEqual([1, 2, 3]);
    expect(cols).toEqual([
      [10, null, 30],
      [null, 20, 31],
      [null, 0, 1],
    ]);
  });
});
