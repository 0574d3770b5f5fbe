import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "./App";

describe("App", () => {
  it("renders the editor layout with the React Flow canvas", () => {
    const { container } = render(<App />);
    expect(screen.getByText("Blockprop")).toBeTruthy();
    expect(screen.getByTestId("palette")).toBeTruthy();
    expect(screen.getByTestId("inspector")).toBeTruthy();
    expect(container.querySelector(".react-flow")).not.toBeNull();
  });
});
