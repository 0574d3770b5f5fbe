import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { GraphDoc } from "../api/types";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { LINREG, resetEditor } from "../test/fixtures";
import { signature } from "../train/runs";
import { type RunView, useTrain } from "../train/store";
import { ExportButtons, weightOptions } from "./ExportMenu";
import { dispositionFilename, fileStem, stateFor } from "./exportApi";

interface Call {
  url: string;
  method: string;
  body: Record<string, unknown> | null;
}

/** A fake server for the export endpoints and the run state; records every request. */
function fakeServer(opts: { fail?: { status: number; code: string; message: string } } = {}) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? "GET";
    calls.push({ url, method, body: init?.body ? JSON.parse(String(init.body)) : null });
    if (url.startsWith("/api/export/") && opts.fail) {
      const { status, ...error } = opts.fail;
      return new Response(JSON.stringify({ error: { ...error, nodes: ["lin"], port: null } }), {
        status,
        headers: { "Content-Type": "application/json" },
      });
    }
    if (url === "/api/export/pytorch") {
      return new Response("class LinearRegression(nn.Module):\n    pass\n", {
        status: 200,
        headers: {
          "Content-Type": "text/x-python",
          "Content-Disposition": 'attachment; filename="linear_regression.py"',
        },
      });
    }
    if (url === "/api/export/onnx") {
      return new Response(new Uint8Array([8, 9, 18, 0]), {
        status: 200,
        headers: {
          "Content-Type": "application/onnx",
          "Content-Disposition": 'attachment; filename="linear_regression.onnx"',
        },
      });
    }
    if (url === "/api/runs/r1/state") {
      return new Response(
        JSON.stringify({
          run_id: "r1",
          step: 57,
          state: { lin: { W: [[0.5, -0.25, 1]], b: [0.125] }, gone: { W: [[1]] } },
        }),
        { status: 200 },
      );
    }
    return new Response("{}", { status: 404 });
  });
  return { fetchMock, calls };
}

const RUN: RunView = {
  id: "r1",
  graphId: null,
  name: "",
  status: "completed" as RunView["status"],
  live: false,
  queue: null,
  reason: null,
  step: 42,
  epoch: 3,
  divergedNode: null,
  error: null,
  config: { lr: 0.1, seed: 7 },
  dataset: { name: "xor", seed: 0, test_fraction: 0.2, normalize: true },
  canControl: true,
  createdAt: 0,
  sig: null,
};

const valid = () =>
  useEditor.getState().setValidation({
    ok: true,
    order: LINREG.nodes.map((n) => n.id),
    shapes: {},
    errors: [],
  });

/** The downloads the page started: each anchor click's file name and the blob behind it. */
function catchDownloads() {
  const files: { name: string; blob: Blob | undefined }[] = [];
  const blobs = new Map<string, Blob>();
  let n = 0;
  vi.stubGlobal("URL", {
    ...URL,
    createObjectURL: (b: Blob) => {
      const url = `blob:test/${++n}`;
      blobs.set(url, b);
      return url;
    },
    revokeObjectURL: () => {},
  });
  const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (
    this: HTMLAnchorElement,
  ) {
    files.push({ name: this.download, blob: blobs.get(this.getAttribute("href") ?? "") });
  });
  return { files, restore: () => click.mockRestore() };
}

const openMenu = () => fireEvent.click(screen.getByTestId("btn-export-menu"));

describe("the export menu", () => {
  let downloads: ReturnType<typeof catchDownloads>;
  beforeEach(() => {
    localStorage.clear();
    resetEditor(LINREG);
    useUi.setState({ notice: null });
    useTrain.setState({ run: null });
    downloads = catchDownloads();
  });
  afterEach(() => {
    downloads.restore();
    vi.unstubAllGlobals();
  });

  it("opens from ▾ with the graph JSON, PyTorch and ONNX; Esc closes it", () => {
    render(<ExportButtons />);
    expect(screen.queryByTestId("export-menu")).toBeNull();
    openMenu();
    const menu = screen.getByTestId("export-menu");
    expect(menu.getAttribute("role")).toBe("menu");
    expect(screen.getByTestId("btn-export-menu").getAttribute("aria-expanded")).toBe("true");
    for (const id of ["export-json", "export-pytorch", "export-onnx", "export-onnx-inference"]) {
      expect(screen.getByTestId(id)).toBeTruthy();
    }
    expect(document.activeElement).toBe(screen.getByTestId("export-json"));
    fireEvent.keyDown(menu, { key: "Escape" });
    expect(screen.queryByTestId("export-menu")).toBeNull();
  });

  it("Export and the Graph JSON item download the document as drawn, no server", () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetchMock);
    render(<ExportButtons />);
    fireEvent.click(screen.getByTestId("btn-export"));
    openMenu();
    fireEvent.click(screen.getByTestId("export-json"));
    expect(downloads.files.map((f) => f.name)).toEqual([
      "linear_regression.json",
      "linear_regression.json",
    ]);
    expect(server.calls).toEqual([]);
    expect(screen.queryByTestId("export-menu")).toBeNull();
  });

  it("exports a PyTorch module: POSTs the document, saves the file the server names", async () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetchMock);
    valid();
    render(<ExportButtons />);
    openMenu();
    expect(screen.getByTestId("export-weights-initial").textContent).toContain("seed 0");
    fireEvent.click(screen.getByTestId("export-pytorch"));
    await waitFor(() => expect(downloads.files).toHaveLength(1));
    expect(server.calls).toHaveLength(1);
    const [call] = server.calls;
    expect(call.url).toBe("/api/export/pytorch");
    expect(call.method).toBe("POST");
    const doc = useEditor.getState().toDoc();
    expect(call.body).toEqual({ graph: JSON.parse(JSON.stringify(doc)), seed: 0 });
    expect(downloads.files[0].name).toBe("linear_regression.py");
    expect(await downloads.files[0].blob?.text()).toContain("nn.Module");
    expect(useUi.getState().notice).toMatchObject({ kind: "info" });
    expect(useUi.getState().notice?.text).toContain("linear_regression.py");
  });

  it("exports ONNX with targets, and for inference with targets: false", async () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetchMock);
    valid();
    render(<ExportButtons />);
    openMenu();
    fireEvent.click(screen.getByTestId("export-onnx"));
    await waitFor(() => expect(downloads.files).toHaveLength(1));
    openMenu();
    fireEvent.click(screen.getByTestId("export-onnx-inference"));
    await waitFor(() => expect(downloads.files).toHaveLength(2));
    expect(server.calls.map((c) => c.url)).toEqual(["/api/export/onnx", "/api/export/onnx"]);
    expect(server.calls[0].body?.targets).toBeUndefined();
    expect(server.calls[1].body?.targets).toBe(false);
    expect(downloads.files.map((f) => f.name)).toEqual([
      "linear_regression.onnx",
      "linear_regression.onnx",
    ]);
    expect(downloads.files[0].blob?.size).toBe(4);
  });

  it("turns PyTorch and ONNX off, saying why, while the graph is invalid", () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetchMock);
    useEditor.getState().setValidation({
      ok: false,
      order: [],
      shapes: {},
      errors: [{ code: "missing_input", message: "lin has no x", nodes: ["lin"], port: "x" }],
    });
    render(<ExportButtons />);
    openMenu();
    for (const id of ["export-pytorch", "export-onnx", "export-onnx-inference"]) {
      const item = screen.getByTestId(id) as HTMLButtonElement;
      expect(item.disabled).toBe(true);
      expect(item.title).toMatch(/invalid \(1 problem\)/);
      fireEvent.click(item);
    }
    expect(screen.getByTestId("export-disabled-reason").textContent).toMatch(/invalid/);
    expect((screen.getByTestId("export-json") as HTMLButtonElement).disabled).toBe(false);
    expect(server.calls).toEqual([]);

    // valid again: on
    act(() => valid());
    expect((screen.getByTestId("export-pytorch") as HTMLButtonElement).disabled).toBe(false);
    expect(screen.queryByTestId("export-disabled-reason")).toBeNull();
  });

  it("is off for an empty graph too", () => {
    resetEditor();
    render(<ExportButtons />);
    openMenu();
    expect((screen.getByTestId("export-onnx") as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId("export-disabled-reason").textContent).toMatch(/empty/);
  });

  it("shows the server's refusal, naming the node, in the notice line", async () => {
    const server = fakeServer({
      fail: {
        status: 422,
        code: "not_exportable",
        message: "node 'lin' (linear) cannot be exported to ONNX: the op declares no ONNX rule",
      },
    });
    vi.stubGlobal("fetch", server.fetchMock);
    const unhandled = vi.fn();
    window.addEventListener("unhandledrejection", unhandled);
    valid();
    render(<ExportButtons />);
    openMenu();
    fireEvent.click(screen.getByTestId("export-onnx"));
    await waitFor(() => expect(useUi.getState().notice?.kind).toBe("error"));
    expect(useUi.getState().notice?.text).toBe(
      "ONNX export failed: node 'lin' (linear) cannot be exported to ONNX: the op declares no ONNX rule",
    );
    expect(downloads.files).toEqual([]);
    await waitFor(() => expect(screen.getByTestId("btn-export-menu").dataset.busy).toBeUndefined());
    window.removeEventListener("unhandledrejection", unhandled);
    expect(unhandled).not.toHaveBeenCalled();
  });

  it("offers a run's trained weights by default and exports them; or the initial ones", async () => {
    const server = fakeServer();
    vi.stubGlobal("fetch", server.fetchMock);
    valid();
    const doc = useEditor.getState().toDoc();
    useTrain.setState({ run: { ...RUN, sig: signature(doc) } });
    render(<ExportButtons />);
    openMenu();
    const trained = screen.getByTestId("export-weights-trained");
    expect(trained.textContent).toBe("trained weights (run r1, step 42)");
    expect(trained.getAttribute("aria-checked")).toBe("true");
    expect(screen.getByTestId("export-menu").dataset.weights).toBe("trained");
    expect(screen.getByTestId("export-weights-initial").textContent).toContain("seed 7");
    fireEvent.click(screen.getByTestId("export-pytorch"));
    await waitFor(() => expect(downloads.files).toHaveLength(1));
    expect(server.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "GET /api/runs/r1/state",
      "POST /api/export/pytorch",
    ]);
    // the run's state, without the nodes the graph no longer has
    const sent = server.calls[1].body?.graph as GraphDoc | undefined;
    expect(sent?.state).toEqual({ lin: { W: [[0.5, -0.25, 1]], b: [0.125] } });
    expect(sent?.nodes).toEqual(JSON.parse(JSON.stringify(doc.nodes)));
    expect(useUi.getState().notice?.text).toContain("run r1, step 57");

    openMenu();
    fireEvent.click(screen.getByTestId("export-weights-initial"));
    expect(screen.getByTestId("export-menu").dataset.weights).toBe("initial");
    fireEvent.click(screen.getByTestId("export-onnx"));
    await waitFor(() => expect(downloads.files).toHaveLength(2));
    expect(server.calls).toHaveLength(3);
    expect(server.calls[2].url).toBe("/api/export/onnx");
    expect(server.calls[2].body?.graph).not.toHaveProperty("state");
    expect(server.calls[2].body?.seed).toBe(7);
  });
});

describe("weight options", () => {
  const doc = LINREG;
  it("offers trained weights only for a run of this very graph that has taken a step", () => {
    const kinds = (run: RunView | null, d: GraphDoc = doc) =>
      weightOptions(d, run, 0).map((o) => o.kind);
    expect(kinds(null)).toEqual(["initial"]);
    expect(kinds({ ...RUN, sig: signature(doc) })).toEqual(["trained", "initial"]);
    expect(kinds({ ...RUN, sig: null })).toEqual(["trained", "initial"]); // attached from the URL
    expect(kinds({ ...RUN, sig: signature(doc), step: 0 })).toEqual(["initial"]);
    expect(kinds({ ...RUN, sig: "[]" })).toEqual(["initial"]); // trained another graph
    const withState = { ...doc, state: { lin: { W: [[1, 2, 3]] } } };
    expect(kinds(null, withState)).toEqual(["document", "initial"]);
  });
});

describe("export helpers", () => {
  it("names files like the server does and reads Content-Disposition", () => {
    expect(fileStem("Two-spiral classifier")).toBe("two_spiral_classifier");
    expect(fileStem("  ")).toBe("model");
    expect(dispositionFilename('attachment; filename="xor.onnx"')).toBe("xor.onnx");
    expect(dispositionFilename("attachment; filename*=UTF-8''caf%C3%A9.py")).toBe("café.py");
    expect(dispositionFilename('attachment; filename="../../.bashrc"')).toBeNull();
    expect(dispositionFilename(null)).toBeNull();
  });

  it("keeps only the state of nodes the graph has", () => {
    expect(stateFor(LINREG, { lin: { b: [1] }, old: { b: [2] } })).toEqual({ lin: { b: [1] } });
    expect(stateFor(LINREG, { old: { b: [2] } })).toBeNull();
    expect(stateFor(LINREG, null)).toBeNull();
  });
});
