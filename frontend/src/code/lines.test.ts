import { describe, expect, it } from "vitest";
import { lineOfNode, withoutState } from "./lines";

const LISTING = `class T(nn.Module):
    def forward(self, **inputs):
        x = inputs["x"]  # x (input) [batch, 2]
        l1 = F.linear(x, self.l1_W, self.l1_b)  # l1 (linear) [batch, 3]
        h = torch.relu(l1)  # h (relu) [batch, 3]
        values = {"x": x, "l1": l1, "h": h}


#: the initial parameters (seed 0), by node and name
STATE = {
    "l1": {"W": [[0.1, 0.2]]},
}
`;

describe("the code listing", () => {
  const lines = LISTING.split("\n");
  it("finds the line that computes a node", () => {
    expect(lineOfNode(lines, "l1")).toBe(3);
    expect(lineOfNode(lines, "h")).toBe(4);
    expect(lineOfNode(lines, "x")).toBe(2);
    expect(lineOfNode(lines, "l")).toBe(-1); // a prefix is not a node
    expect(lineOfNode(lines, null)).toBe(-1);
  });
  it("leaves the numbers out of the shown listing", () => {
    const { code, omitted } = withoutState(LISTING);
    expect(code).not.toContain('"W"');
    expect(code).toContain("F.linear");
    expect(omitted).toBeGreaterThan(3);
    expect(withoutState("x = 1\n").code).toBe("x = 1\n");
  });
});
