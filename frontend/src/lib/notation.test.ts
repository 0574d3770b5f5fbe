import { describe, expect, it } from "vitest";
import type { OpSpec } from "../api/types";
import { notationOf } from "./notation";

const spec = (extra: Partial<OpSpec>) =>
  ({ category: "variable", parameters: [], inputs: [], outputs: [], ...extra }) as OpSpec;

describe("how a node is drawn", () => {
  it("draws a constant unlike observed data when the registry says so", () => {
    expect(notationOf(spec({ notation: "fixed" }))).toBe("constant");
    expect(notationOf(spec({ notation: "trainable" }))).toBe("parameter");
    expect(notationOf(spec({ notation: "observed" }))).toBe("observed");
    expect(notationOf(spec({}))).toBe("observed"); // an older server: no hint
    expect(notationOf(spec({ category: "cost" }))).toBe("cost");
  });
});
