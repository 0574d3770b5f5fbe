import { describe, expect, it } from "vitest";
import { cycleClosedBy, cycleMessage, findPath } from "./cycle";

const chain = [
  { source: "a", target: "b" },
  { source: "b", target: "c" },
  { source: "c", target: "d" },
];

describe("cycle detection", () => {
  it("finds a forward path and none backward", () => {
    expect(findPath(chain, "a", "d")).toEqual(["a", "b", "c", "d"]);
    expect(findPath(chain, "d", "a")).toBeNull();
  });

  it("names the cycle a new link would close", () => {
    expect(cycleClosedBy(chain, "d", "b")).toEqual(["d", "b", "c", "d"]);
    expect(cycleClosedBy(chain, "a", "d")).toBeNull();
  });

  it("treats a self-link as a cycle", () => {
    expect(cycleClosedBy(chain, "c", "c")).toEqual(["c", "c"]);
    expect(cycleMessage(["c", "c"])).toMatch(/itself/);
  });

  it("reads the cycle in the message", () => {
    expect(cycleMessage(["d", "b", "c", "d"])).toBe(
      "Refused: connecting d → b would close the cycle d → b → c → d.",
    );
  });

  it("is iterative: a 50 000-node chain does not overflow the stack", () => {
    const n = 50_000;
    const links = Array.from({ length: n - 1 }, (_, i) => ({
      source: `n${i}`,
      target: `n${i + 1}`,
    }));
    expect(cycleClosedBy(links, `n${n - 1}`, "n0")).toHaveLength(n + 1);
  });
});
