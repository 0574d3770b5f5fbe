import { describe, expect, it } from "vitest";
import type { ParamSpec } from "../api/types";
import { SPATIAL_OPS } from "../test/fixtures";
import { compactParam, formatParam, paramSummary, parseParam, rangeHint } from "./paramCodec";

const spec = (type: string, extra: Partial<ParamSpec> = {}): ParamSpec => ({
  name: "p",
  type,
  ...extra,
});

describe("param widgets' text codec", () => {
  it("parses numbers and keeps out-of-range ones for the server to judge", () => {
    expect(parseParam(spec("int"), "16")).toEqual({ ok: true, value: 16 });
    expect(parseParam(spec("int", { min: 1 }), "0")).toEqual({ ok: true, value: 0 });
    expect(parseParam(spec("float"), "abc").ok).toBe(false);
    expect(parseParam(spec("int"), "")).toEqual({ ok: true, value: undefined });
  });

  it("parses shapes written several ways", () => {
    for (const t of ["2, 3", "[2,3]", "2 3", "2x3", "(2, 3)"]) {
      expect(parseParam(spec("shape"), t)).toEqual({ ok: true, value: [2, 3] });
    }
    expect(parseParam(spec("shape"), "")).toEqual({ ok: true, value: [] });
    expect(parseParam(spec("shape"), "2.5").ok).toBe(false);
    expect(parseParam(spec("floats"), "0.5, 1")).toEqual({ ok: true, value: [0.5, 1] });
  });

  it("parses tensors as JSON", () => {
    expect(parseParam(spec("tensor"), "[[1, 2], [3, 4]]")).toEqual({
      ok: true,
      value: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(formatParam([2, 3])).toBe("2, 3");
  });

  it("hints at range problems", () => {
    expect(rangeHint(spec("int", { min: 1 }), 0)).toBe("Minimum is 1.");
    expect(rangeHint(spec("float", { max: 0.95 }), 1)).toBe("Maximum is 0.95.");
    expect(rangeHint(spec("int"), 1.5)).toMatch(/whole/);
    expect(rangeHint(spec("int", { min: 1 }), 3)).toBeNull();
  });

  it("parses a per-axis param as one whole number or one per axis", () => {
    const k = spec("ints", { axes: 2, min: 1 });
    expect(parseParam(k, "3")).toEqual({ ok: true, value: 3 });
    for (const t of ["3, 5", "3,5", "3×5", "3x5", "3 5", "[3, 5]", "(3, 5)"]) {
      expect(parseParam(k, t)).toEqual({ ok: true, value: [3, 5] });
    }
    expect(parseParam(k, "")).toEqual({ ok: true, value: undefined }); // the default
    expect(parseParam(k, "2.5").ok).toBe(false);
    expect(parseParam(k, "3, a").ok).toBe(false);
    expect(parseParam(k, "[]").ok).toBe(false);
    expect(formatParam([3, 5])).toBe("3, 5");
  });

  it("hints at per-axis range and length problems", () => {
    const k = spec("ints", { axes: 2, min: 1, max: 64 });
    expect(rangeHint(k, [0, 3])).toBe("Minimum is 1.");
    expect(rangeHint(k, [3, 65])).toBe("Maximum is 64.");
    expect(rangeHint(k, [3, 3, 3])).toBe("Expected one number, or 2 (one per axis).");
    expect(rangeHint(k, 0)).toBe("Minimum is 1.");
    expect(rangeHint(k, [2, 3])).toBeNull();
  });

  it("writes per-axis values compactly on the block", () => {
    expect(compactParam(spec("ints"), [2, 3])).toBe("2×3");
    expect(compactParam(spec("ints"), 3)).toBe("3");
    expect(compactParam(spec("shape"), [2, 3])).toBe("[2,3]");
    const conv = SPATIAL_OPS.find((o) => o.name === "conv2d");
    expect(paramSummary(conv, { kernel_size: [2, 3], stride: [1, 2], padding: 0 })).toBe(
      "kernel_size=2×3 stride=1×2",
    );
  });
});
