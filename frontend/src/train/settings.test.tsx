import { render } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import { SettingsPanel } from "./SettingsPanel";
import { DEFAULT_SETTINGS, LIVE, SETTINGS, settingsFrom } from "./settings";
import { useTrain } from "./store";
import schema from "./trainConfig.json";

// The form is the training config's one declaration (trainConfig.json, the API's schema):
// every setting it offers is drawn, with the declared bounds, defaults and live flags.
const props = schema.properties as Record<string, Record<string, unknown>>;

describe("the settings form is generated from the training config", () => {
  beforeEach(() => useTrain.setState({ settings: { ...DEFAULT_SETTINGS }, run: null }));

  it("offers every setting the declaration marks for the form, with its default", () => {
    const offered = Object.keys(props).filter((k) => props[k]["x-form"] !== false);
    expect(SETTINGS.map((s) => s.name).sort()).toEqual(offered.sort());
    for (const s of SETTINGS) {
      const p = props[s.name];
      expect(s.default).toEqual(p["x-form-default"] ?? p.default ?? null);
      expect(s.live).toBe(p["x-live"]);
      expect(s.label).toBe(p.title);
    }
    expect([...LIVE].sort()).toEqual(
      Object.keys(props)
        .filter((k) => props[k]["x-live"])
        .sort(),
    );
  });

  it("draws a field per setting that applies, hiding those whose `x-when` does not hold", () => {
    useTrain.setState({ settings: settingsFrom({ optimizer: "adam", schedule: "step" }) });
    const { queryByTestId } = render(<SettingsPanel />);
    for (const s of SETTINGS) {
      const applies = !s.when || s.when(useTrain.getState().settings);
      expect(queryByTestId(`train-${s.name}`) !== null, s.name).toBe(applies);
    }
    expect(queryByTestId("train-beta1")).not.toBeNull();
    expect(queryByTestId("train-momentum")).toBeNull();
    expect(queryByTestId("train-step_size")).not.toBeNull();
  });

  it("keeps the bounds of the declaration (exclusive ones too)", () => {
    const momentum = SETTINGS.find((s) => s.name === "momentum");
    expect(momentum).toMatchObject({ min: 0, max: 1, minExclusive: false, maxExclusive: true });
    const lr = SETTINGS.find((s) => s.name === "lr");
    expect(lr).toMatchObject({ min: 0, minExclusive: true });
  });
});
