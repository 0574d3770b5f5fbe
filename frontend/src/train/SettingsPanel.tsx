import { NumberField } from "./DataPanel";
import { GROUPS, PRESETS, presetOf, SETTINGS, type SettingSpec } from "./settings";
import { useTrain } from "./store";

const SPEEDS: [number, string][] = [
  [0, "as fast as it goes"],
  [1000, "1000 steps/s"],
  [200, "200 steps/s"],
  [50, "50 steps/s"],
  [10, "10 steps/s"],
  [2, "2 steps/s"],
];

/** Every trainer setting, grouped, with the full-batch / SGD / mini-batch presets. Settings
 * marked live (learning rate, momentum, L1, L2, speed) reach a running run at once; the
 * others apply to the next run. */
export function SettingsPanel() {
  const settings = useTrain((s) => s.settings);
  const setSetting = useTrain((s) => s.setSetting);
  // a held diverged run takes live settings too (lower its rate, then resume it)
  const live = useTrain((s) => !!s.run?.live);
  const preset = presetOf(settings.batch_size);

  const field = (spec: SettingSpec) => {
    if (spec.when && !spec.when(settings)) return null;
    const value = settings[spec.name];
    const id = `train-${spec.name}`;
    const tag =
      spec.live && live ? (
        <i className="live-tag" title="changes the running run at once">
          live
        </i>
      ) : null;
    if (spec.kind === "bool") {
      return (
        <label key={spec.name} className="tf-check" title={spec.doc}>
          <input
            type="checkbox"
            data-testid={id}
            checked={!!value}
            onChange={(e) => setSetting(spec.name, e.target.checked)}
          />
          {spec.label}
        </label>
      );
    }
    if (spec.kind === "choice") {
      return (
        <label key={spec.name} className="tf" title={spec.doc}>
          <span>{spec.label}</span>
          <select
            data-testid={id}
            value={String(value)}
            onChange={(e) => setSetting(spec.name, e.target.value)}
          >
            {spec.choices?.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
      );
    }
    if (spec.name === "speed") {
      return (
        <label key={spec.name} className="tf" title={spec.doc}>
          <span>speed {tag}</span>
          <select
            data-testid={id}
            value={String(value)}
            onChange={(e) => setSetting("speed", Number(e.target.value))}
          >
            {!SPEEDS.some(([v]) => v === value) && (
              <option value={String(value)}>{String(value)} steps/s</option>
            )}
            {SPEEDS.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
      );
    }
    const input = (
      <NumberField
        key={spec.name}
        id={id}
        label={spec.label}
        title={spec.doc}
        value={(value as number | null) ?? null}
        int={spec.kind === "int"}
        min={spec.min}
        max={spec.max}
        minExclusive={spec.minExclusive}
        maxExclusive={spec.maxExclusive}
        step={spec.step}
        nullable={spec.nullable}
        placeholder={spec.nullable ? (spec.name === "batch_size" ? "full" : "as drawn") : undefined}
        onCommit={(v) => setSetting(spec.name, v)}
      />
    );
    if (spec.name !== "lr") return input;
    const lr = value as number;
    return (
      <div key="lr" className="lr-row">
        {input}
        {tag}
        <button
          type="button"
          className="btn tiny"
          data-testid="lr-down"
          title="Divide the learning rate by 10"
          onClick={() => setSetting("lr", round(lr / 10))}
        >
          ÷10
        </button>
        <button
          type="button"
          className="btn tiny"
          data-testid="lr-up"
          title="Multiply the learning rate by 10"
          onClick={() => setSetting("lr", round(lr * 10))}
        >
          ×10
        </button>
      </div>
    );
  };

  return (
    <div className="settings-panel">
      <fieldset className="seg">
        <legend className="sr-only">Method</legend>
        {PRESETS.map((p) => (
          <button
            key={p.id}
            type="button"
            data-testid={`preset-${p.id}`}
            aria-pressed={preset === p.id}
            title={p.title}
            onClick={() =>
              setSetting(
                "batch_size",
                p.id === "mini" && preset === "mini" ? settings.batch_size : p.batch,
              )
            }
          >
            {p.label}
          </button>
        ))}
      </fieldset>
      {GROUPS.map((g) => (
        <fieldset key={g.id} className="tf-group">
          <legend>{g.label}</legend>
          <div className="tf-grid">{SETTINGS.filter((s) => s.group === g.id).map(field)}</div>
        </fieldset>
      ))}
      {live && (
        <p className="muted small-text">
          Settings without “live” apply to the next run (▶ after ■ or ↺).
        </p>
      )}
    </div>
  );
}

const round = (v: number) => Number(v.toPrecision(6));
