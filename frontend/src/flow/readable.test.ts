import { describe, expect, it } from "vitest";
import { READABLE_ZOOM, readableViewport } from "./readable";

describe("a readable frame", () => {
  it("fits a small graph, centred, no closer than 1.25", () => {
    const v = readableViewport({ x: 0, y: 0, width: 200, height: 100 }, 900, 600);
    expect(v.zoom).toBe(1.25);
    expect(v.x).toBeCloseTo((900 - 250) / 2);
    expect(v.y).toBeCloseTo((600 - 125) / 2);
  });
  it("never shrinks text below 12 px: a wide graph is shown from its start", () => {
    const v = readableViewport({ x: 100, y: 0, width: 2000, height: 200 }, 900, 600);
    expect(v.zoom).toBe(READABLE_ZOOM);
    expect(13 * v.zoom).toBeGreaterThanOrEqual(12);
    expect(v.x).toBeCloseTo(40 - 100 * READABLE_ZOOM); // left edge at the padding
    expect(v.y).toBeCloseTo((600 - 200 * READABLE_ZOOM) / 2); // still centred vertically
  });
});
