import { act, fireEvent, render, screen } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { useEditor } from "../store/editor";
import { LINREG, OPS, resetEditor, SPATIAL_OPS } from "../test/fixtures";
import { Inspector } from "./Inspector";

const ed = () => useEditor.getState();

describe("Inspector", () => {
  beforeEach(() => {
    resetEditor(LINREG);
  });

  it("builds widgets from the param spec and writes edits to the store", () => {
    ed().selectOnly(["lin"]);
    render(<Inspector />);
    const out = screen.getByTestId("param-out_features") as HTMLInputElement;
    expect(out.type).toBe("number");
    expect(out.value).toBe("1");
    expect(out.classList.contains("nodrag")).toBe(true);
    fireEvent.change(out, { target: { value: "16" } });
    expect(ed().nodes.find((n) => n.id === "lin")?.data.params.out_features).toBe(16);

    const bias = screen.getByTestId("param-bias") as HTMLInputElement;
    expect(bias.type).toBe("checkbox");
    fireEvent.click(bias);
    expect(ed().nodes.find((n) => n.id === "lin")?.data.params.bias).toBe(false);

    const init = screen.getByTestId("param-init") as HTMLSelectElement;
    expect([...init.options].map((o) => o.value)).toEqual(["zeros", "uniform", "xavier", "he"]);
    fireEvent.change(init, { target: { value: "he" } });
    expect(ed().nodes.find((n) => n.id === "lin")?.data.params.init).toBe("he");
  });

  it("follows undo in its fields", () => {
    ed().selectOnly(["x"]);
    render(<Inspector />);
    const shape = screen.getByTestId("param-shape") as HTMLInputElement;
    expect(shape.value).toBe("3");
    fireEvent.change(shape, { target: { value: "2, 5" } });
    expect(ed().nodes[0].data.params.shape).toEqual([2, 5]);
    act(() => ed().undo());
    expect((screen.getByTestId("param-shape") as HTMLInputElement).value).toBe("3");
  });

  it("shows the server's message on the param it names", () => {
    ed().selectOnly(["lin"]);
    ed().setValidation({
      ok: false,
      order: [],
      shapes: {},
      errors: [
        { code: "bad_param", message: "must be at least 1", nodes: ["lin"], port: "out_features" },
      ],
    });
    render(<Inspector />);
    // Once, at the field, plainly; the code only as small print beside it.
    expect(screen.getByTestId("param-error-out_features").textContent).toBe("Must be at least 1");
    expect(screen.getByTestId("field-out_features").textContent).toContain("bad_param");
    expect(screen.queryByTestId("inspector-errors")).toBeNull();
  });

  it("shows a param's problem once, without the node it names, and the rest above", () => {
    ed().selectOnly(["lin"]);
    ed().setParam("lin", "out_features", 0); // the local range check says "Minimum is 1."
    ed().setValidation({
      ok: false,
      order: [],
      shapes: {},
      errors: [
        {
          code: "bad_param",
          message: "node 'lin' (linear): parameter 'out_features' must be at least 1, got 0",
          nodes: ["lin"],
          port: "out_features",
        },
        {
          code: "missing_input",
          message: "node 'lin' (linear): needs an input on port 'x'",
          nodes: ["lin"],
          port: "x",
        },
      ],
    });
    render(<Inspector />);
    const field = screen.getByTestId("field-out_features");
    expect(screen.getByTestId("param-error-out_features").textContent).toBe(
      "Must be at least 1, got 0",
    );
    expect(field.textContent).not.toContain("Minimum is 1.");
    const banner = screen.getByTestId("inspector-errors");
    expect(banner.textContent).not.toContain("out_features");
    expect(banner.textContent).toContain("Needs an input on port 'x'");
    expect(banner.textContent).not.toContain("node 'lin'");
  });

  it("renders the op's formulas with KaTeX", () => {
    ed().selectOnly(["lin"]);
    render(<Inspector />);
    expect(screen.getByTestId("formula-forward").querySelector(".katex")).not.toBeNull();
    expect(screen.getByTestId("formula-backward").querySelector(".katex")).not.toBeNull();
  });

  it("edits a per-axis param as one number or one per axis", () => {
    ed().setOps([...OPS, ...SPATIAL_OPS]);
    ed().loadDoc({
      version: 1,
      nodes: [
        { id: "img", op: "input", params: { shape: [1, 8, 8] }, ui: { x: 0, y: 0 } },
        {
          id: "k",
          op: "conv2d",
          params: { out_channels: 4 },
          inputs: { x: "img" },
          ui: { x: 200, y: 0 },
        },
      ],
    });
    ed().selectOnly(["k"]);
    render(<Inspector />);
    const kernel = screen.getByTestId("param-kernel_size") as HTMLInputElement;
    expect(kernel.type).toBe("text");
    expect(kernel.placeholder).toBe("3");
    const params = () => ed().nodes.find((n) => n.id === "k")?.data.params;
    fireEvent.change(kernel, { target: { value: "2×3" } });
    expect(params()?.kernel_size).toEqual([2, 3]);
    fireEvent.change(kernel, { target: { value: "5" } });
    expect(params()?.kernel_size).toBe(5);
    fireEvent.change(screen.getByTestId("param-stride"), { target: { value: "1, 2, 3" } });
    expect(screen.getByTestId("field-stride").textContent).toContain("Expected one number, or 2");
    expect(screen.queryByTestId("inspector-buffers")).toBeNull();
  });

  it("lists batch norm's running statistics apart from its trainable parameters", () => {
    ed().setOps([...OPS, ...SPATIAL_OPS]);
    ed().loadDoc({
      version: 1,
      nodes: [
        { id: "img", op: "input", params: { shape: [3, 4, 4] }, ui: { x: 0, y: 0 } },
        { id: "bn", op: "batch_norm", inputs: { x: "img" }, ui: { x: 200, y: 0 } },
      ],
    });
    ed().selectOnly(["bn"]);
    render(<Inspector />);
    const section = screen.getByTestId("inspector-buffers");
    expect(section.textContent).toContain("not trained");
    expect(section.textContent).toContain("running_mean [channels] starts at 0");
    expect(section.textContent).toContain("running_var [channels] starts at 1");
  });
});
