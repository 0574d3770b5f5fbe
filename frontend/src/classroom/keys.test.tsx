// One table of classroom keys: the handler acts on every key it lists, the `?` overlay lists
// them all, and the explain panel's footer shows its few from the same table.
import { render, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SHORTCUTS } from "../flow/shortcuts";
import { HelpOverlay } from "../panels/Dialogs";
import { CLASSROOM_KEYS, type ClassroomAction, footerKeys } from "./keys";
import { onClassroomKey } from "./present";
import { useClassroom } from "./store";

afterEach(() => {
  useClassroom.setState(useClassroom.getInitialState(), true);
  window.history.replaceState(null, "", "/");
});

/** The store action each table entry ends up calling (with explain mode open and a walk). */
const CALLS: Record<ClassroomAction, string> = {
  next: "next",
  prev: "prev",
  first: "first",
  last: "last",
  into: "stepInto",
  out: "stepOut",
  play: "togglePlay",
  backward: "toggleBackwardGraph",
  gradcheck: "runGradcheck",
  weights: "toggleWeights",
  explain: "toggleExplain",
  present: "setPresent",
  escape: "toggleBackwardGraph",
};

function spiedStore(patch: Record<string, unknown> = {}) {
  const spies = Object.fromEntries(
    [...new Set(Object.values(CALLS)), "setHidden"].map((n) => [n, vi.fn()]),
  );
  // a graph with a module instance: ↓ ↑ step into and out of it
  const result = { blocks: [{ id: "b1" }] } as never;
  useClassroom.setState({ open: true, walk: {} as never, result, ...spies, ...patch });
  return spies;
}

const press = (key: string) => {
  const e = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
  Object.defineProperty(e, "target", { value: document.body });
  return onClassroomKey(e, false);
};

describe("classroom keys", () => {
  it("the handler acts on every key of the table", () => {
    for (const entry of CLASSROOM_KEYS) {
      for (const code of entry.codes) {
        const spies = spiedStore({ backwardGraph: entry.action === "escape" });
        expect(press(code), `${entry.action} on ${JSON.stringify(code)}`).toBe(true);
        expect(spies[CALLS[entry.action]], `${entry.action} on ${code}`).toHaveBeenCalled();
      }
    }
    // and on nothing else
    spiedStore();
    expect(press("x")).toBe(false);
    // without modules, ↑ ↓ stay the canvas's (they move the selected nodes)
    const spies = spiedStore({ result: { blocks: [] } });
    expect(press("ArrowDown")).toBe(false);
    expect(press("ArrowUp")).toBe(false);
    expect(spies.stepInto).not.toHaveBeenCalled();
  });

  it("a follower has no teacher keys", () => {
    for (const entry of CLASSROOM_KEYS.filter((k) => k.teacher)) {
      const spies = spiedStore({ role: "follower" });
      expect(press(entry.codes[0])).toBe(false);
      expect(spies[CALLS[entry.action]]).not.toHaveBeenCalled();
    }
  });

  it("the ? overlay lists the editor's shortcuts and every classroom key", () => {
    const { getByTestId } = render(<HelpOverlay />);
    const overlay = getByTestId("help-overlay");
    for (const s of SHORTCUTS) expect(overlay.textContent).toContain(s.what);
    const table = within(getByTestId("help-classroom-keys"));
    for (const entry of CLASSROOM_KEYS) {
      const row = table.getByText(entry.what).closest("tr") as HTMLElement;
      expect(row.dataset.action).toBe(entry.action);
      const kbds = [...row.querySelectorAll("kbd")].map((k) => k.textContent);
      expect(kbds).toEqual(entry.keys);
    }
  });

  it("the explain panel's footer takes its keys from the same table", () => {
    const teacher = footerKeys(false);
    expect(teacher.map((g) => `${g.keys.join(" ")} ${g.label}`)).toEqual([
      "← → step",
      "Space play",
      "B backward graph",
      "G check",
      "E close",
      "P present",
    ]);
    // with modules, the block keys too
    expect(footerKeys(false, true).map((g) => `${g.keys.join(" ")} ${g.label}`)).toContain(
      "↓ ↑ into/out of a block",
    );
    const follower = footerKeys(true).map((g) => g.label);
    expect(follower).not.toContain("check");
    expect(follower).not.toContain("close");
  });
});
