// What the teacher's dock is set to, for the students who follow: the dataset and the
// training settings that travel in the broadcast document, read-only. A one-line summary
// in the bar; opened, every setting the form offers, labelled as in the teacher's dock.
import type { GraphDoc } from "../api/types";
import { SETTINGS, settingsFrom, type TrainSettings } from "../train/settings";
import { useFollow } from "./follow";

const shown = (v: unknown): string =>
  v === null || v === undefined ? "—" : typeof v === "boolean" ? (v ? "yes" : "no") : String(v);

/** "iris · adam · lr 0.02 · batch 32 · 7 epochs" */
export function settingsSummary(doc: GraphDoc): string {
  const dataset = (doc.dataset as { name?: string } | null | undefined)?.name;
  const s = settingsFrom(doc.train as Record<string, unknown> | null | undefined);
  const batch = s.batch_size == null ? "full batch" : `batch ${s.batch_size}`;
  return [dataset, s.optimizer, `lr ${s.lr}`, batch, `${s.epochs} epochs`]
    .filter(Boolean)
    .join(" · ");
}

export function FollowSettings() {
  const doc = useFollow((s) => s.doc);
  if (!doc || (!doc.dataset && !doc.train)) return null;
  const settings: TrainSettings = settingsFrom(
    doc.train as Record<string, unknown> | null | undefined,
  );
  const dataset = (doc.dataset ?? {}) as Record<string, unknown>;
  const rows = SETTINGS.filter((s) => !s.when || s.when(settings));
  return (
    <details className="cx-follow-settings" data-testid="follow-settings">
      <summary title={`The teacher's dataset and training settings: ${settingsSummary(doc)}`}>
        {settingsSummary(doc)}
      </summary>
      <dl aria-label="The teacher's dataset and training settings">
        {Object.entries(dataset).map(([k, v]) => (
          <div key={`d-${k}`}>
            <dt>dataset {k.replace(/_/g, " ")}</dt>
            <dd>{shown(v)}</dd>
          </div>
        ))}
        {rows.map((s) => (
          <div key={s.name} data-setting={s.name}>
            <dt title={s.doc}>{s.label}</dt>
            <dd>{shown(settings[s.name])}</dd>
          </div>
        ))}
      </dl>
    </details>
  );
}
