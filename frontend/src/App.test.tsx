import { render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { useEditor } from "./store/editor";
import { OPS } from "./test/fixtures";

/** A fake API: the op catalogue, and a validation that accepts everything. */
function fakeFetch(input: RequestInfo | URL, init?: RequestInit) {
  const url = String(input);
  const json = (data: unknown) =>
    Promise.resolve(new Response(JSON.stringify(data), { status: 200 }));
  if (url.endsWith("/api/ops")) return json(OPS);
  if (url.endsWith("/api/validate")) {
    const doc = JSON.parse(String(init?.body));
    return json({
      ok: true,
      order: doc.nodes.map((n: { id: string }) => n.id),
      shapes: {},
      errors: [],
    });
  }
  return Promise.resolve(new Response("{}", { status: 404 }));
}

describe("App", () => {
  beforeEach(() => {
    // Start from "/" with no ops, no draft: the app must fetch the catalogue itself.
    useEditor.setState(useEditor.getInitialState(), true);
    window.history.replaceState(null, "", "/");
    localStorage.clear();
    vi.stubGlobal("fetch", vi.fn(fakeFetch));
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("renders the editor layout and a palette built from GET /api/ops", async () => {
    const { container } = render(<App />);
    expect(screen.getByText("Blockprop")).toBeTruthy();
    expect(container.querySelector(".react-flow")).not.toBeNull();
    await waitFor(() => expect(screen.getByTestId("palette-linear")).toBeTruthy());
    for (const op of OPS) expect(screen.getByTestId(`palette-${op.name}`)).toBeTruthy();
    expect(screen.getByTestId("palette-group-variable").textContent).toContain("Input");
    await waitFor(() => expect(screen.getByTestId("status").dataset.status).toBe("empty"));
  });
});
