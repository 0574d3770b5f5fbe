import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { Example } from "../api/types";
import { LINREG, resetEditor } from "../test/fixtures";
import { useTrain } from "../train/store";
import { confirmDiscard, importFile, openExample, openRunAsGraph, saveGraph } from "./documents";
import { selectDirty, useEditor } from "./editor";
import { readDraft, writeDraft } from "./sync";

const ed = () => useEditor.getState();

const example = (id: string) =>
  ({
    id,
    title: `Example ${id}`,
    description: "",
    graph: { ...LINREG, name: id },
    dataset: null,
    train: null,
  }) as unknown as Example;

describe("loading examples and files leaves nothing unsaved", () => {
  let confirm: ReturnType<typeof vi.fn>;
  beforeEach(() => {
    resetEditor();
    confirm = vi.fn(() => true);
    vi.stubGlobal("confirm", confirm);
    vi.spyOn(api, "example").mockImplementation(async (id) => example(id));
    vi.spyOn(useTrain.getState(), "applyExample").mockImplementation(() => {});
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it("switches between examples without asking, but asks once one is edited", async () => {
    await openExample("a");
    expect(ed().nodes).toHaveLength(4);
    expect(selectDirty(ed())).toBe(false);
    expect(confirmDiscard()).toBe(true);
    await openExample("b");
    expect(confirm).not.toHaveBeenCalled();

    ed().setParam("lin", "out_features", 2); // now it is the user's work
    expect(selectDirty(ed())).toBe(true);
    confirmDiscard();
    expect(confirm).toHaveBeenCalledTimes(1);
  });

  it("an imported file is clean until edited", async () => {
    const file = new File([JSON.stringify(LINREG)], "linreg.json", { type: "application/json" });
    await importFile(file);
    expect(ed().nodes).toHaveLength(4);
    expect(selectDirty(ed())).toBe(false);
    confirmDiscard();
    expect(confirm).not.toHaveBeenCalled();
  });
});

describe("the experiment travels with the document", () => {
  beforeEach(() => resetEditor());
  afterEach(() => vi.restoreAllMocks());

  it("an imported document restores its dataset, settings and normalisation; saving keeps them", async () => {
    const doc = {
      ...LINREG,
      name: "iris run",
      state: { lin: { W: [[1]], b: [0] } },
      normalization: { x: { mean: [5.8], std: [0.8] } },
      dataset: { name: "iris", seed: 1, test_fraction: 0.3, normalize: true },
      train: { epochs: 7, optimizer: "adam", lr: 0.02, batch_size: null },
    };
    await importFile(new File([JSON.stringify(doc)], "iris.json"));
    const t = useTrain.getState();
    expect(t.dataset).toMatchObject({ name: "iris", seed: 1, test_fraction: 0.3 });
    expect(t.settings).toMatchObject({ epochs: 7, optimizer: "adam", lr: 0.02, batch_size: null });

    const create = vi.spyOn(api, "createGraph").mockImplementation(async (d) => ({
      id: "g1",
      name: d.name ?? "",
      public: false,
      revision: 1,
      forked_from: null,
      created_at: 0,
      updated_at: 0,
      graph: d,
      edit_token: "t",
    }));
    await saveGraph();
    const sent = create.mock.calls[0][0];
    expect(sent.dataset).toMatchObject({ name: "iris", seed: 1 });
    expect(sent.train).toMatchObject({ epochs: 7, optimizer: "adam", lr: 0.02 });
    expect(sent.normalization).toEqual(doc.normalization);
    expect(sent.state).toEqual(doc.state);
  });

  it("changing the dock's settings or dataset by hand leaves the document unsaved; the draft keeps them", async () => {
    await importFile(new File([JSON.stringify(LINREG)], "linreg.json"));
    expect(selectDirty(ed())).toBe(false);
    useTrain.getState().setSetting("epochs", 9);
    expect(selectDirty(ed())).toBe(true);
    writeDraft();
    expect(readDraft()?.doc.train).toMatchObject({ epochs: 9 });

    ed().markSaved("g2", 2);
    expect(selectDirty(ed())).toBe(false);
    useTrain.getState().setDataset({ seed: 5 });
    expect(selectDirty(ed())).toBe(true);
    writeDraft();
    expect(readDraft()?.doc.dataset).toMatchObject({ seed: 5 });
  });

  it("a run opens as a graph with its trained state, dataset and settings", async () => {
    vi.stubGlobal("confirm", () => true);
    vi.spyOn(api, "runGraph").mockResolvedValue({
      ...LINREG,
      name: "",
      state: { lin: { W: [[2]], b: [-0.5] } },
      dataset: { name: "linear", seed: 4, test_fraction: 0.2, normalize: false },
      train: { epochs: 3, lr: 0.5 },
    } as never);
    await openRunAsGraph("r9");
    expect(ed().name).toBe("run r9");
    expect(ed().toDoc().state).toEqual({ lin: { W: [[2]], b: [-0.5] } });
    expect(useTrain.getState().dataset).toMatchObject({ name: "linear", seed: 4 });
    expect(useTrain.getState().settings).toMatchObject({ epochs: 3, lr: 0.5 });
    vi.unstubAllGlobals();
  });
});
