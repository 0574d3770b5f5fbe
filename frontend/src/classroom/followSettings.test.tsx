// A follower sees the teacher's dataset and training settings, read-only, from the broadcast
// document; nothing when the document carries none.
import { render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { GraphDoc } from "../api/types";
import { LINREG } from "../test/fixtures";
import { SETTINGS } from "../train/settings";
import { FollowSettings, settingsSummary } from "./FollowSettings";
import { useFollow } from "./follow";

const TEACHER = {
  ...LINREG,
  dataset: { name: "iris", seed: 1, test_fraction: 0.3, normalize: true },
  train: { epochs: 7, optimizer: "adam", lr: 0.02, batch_size: 32 },
} as GraphDoc;

afterEach(() => useFollow.setState(useFollow.getInitialState(), true));

describe("the teacher's settings on the follow page", () => {
  it("sums them up in one line", () => {
    expect(settingsSummary(TEACHER)).toBe("iris · adam · lr 0.02 · batch 32 · 7 epochs");
    const full = { ...TEACHER, train: { ...TEACHER.train, batch_size: null } } as GraphDoc;
    expect(settingsSummary(full)).toContain("full batch");
  });

  it("lists every setting the dock offers, with the teacher's values", () => {
    useFollow.setState({ doc: TEACHER });
    const { container } = render(<FollowSettings />);
    expect(screen.getByText("iris · adam · lr 0.02 · batch 32 · 7 epochs")).toBeTruthy();
    const row = (name: string) => container.querySelector(`[data-setting="${name}"] dd`);
    expect(row("lr")?.textContent).toBe("0.02");
    expect(row("epochs")?.textContent).toBe("7");
    const label = SETTINGS.find((s) => s.name === "lr")?.label ?? "";
    expect(screen.getByText(label)).toBeTruthy();
    expect(screen.getByText("dataset test fraction").nextSibling?.textContent).toBe("0.3");
  });

  it("shows nothing for a document without them", () => {
    useFollow.setState({ doc: LINREG as GraphDoc });
    const { container } = render(<FollowSettings />);
    expect(container.innerHTML).toBe("");
  });
});
