import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api } from "../api/client";
import type { Example } from "../api/types";
import { LINREG, resetEditor } from "../test/fixtures";
import { useTrain } from "../train/store";
import { confirmDiscard, importFile, openExample } from "./documents";
import { selectDirty, useEditor } from "./editor";

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
