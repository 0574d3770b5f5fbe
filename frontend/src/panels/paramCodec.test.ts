import { describe, expect, it } from "vitest";
import type { ParamSpec } from "../api/types";
import { formatParam, parseParam, rangeHint } from "./paramCodec";

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
});
