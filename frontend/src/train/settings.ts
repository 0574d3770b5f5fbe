// The trainer settings the panel offers, built from the training config's one declaration
// (the engine's TrainConfig, published as the OpenAPI schema `TrainConfig` and copied to
// trainConfig.json by `python -m blockprop.api.openapi --train-config`): names, types,
// bounds, defaults, docs, labels, groups and which settings may change live all come from it.
// Presets and how a run's config is built from the settings are here.

import type { components } from "../api/schema";
import schema from "./trainConfig.json";

export type FieldKind = "int" | "float" | "bool" | "choice";

export interface SettingSpec {
  name: string;
  label: string;
  kind: FieldKind;
  choices?: string[];
  min?: number;
  max?: number;
  /** the bounds themselves are not allowed */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  step?: number;
  /** null allowed (blank field) */
  nullable?: boolean;
  doc: string;
  /** shown only when this holds */
  when?: (cfg: TrainSettings) => boolean;
  /** can change while the run trains (PATCH /api/runs/{id}) */
  live?: boolean;
  group: "method" | "optimizer" | "schedule" | "regularization" | "run" | "graph";
  /** offered by the form (others are kept as given, not shown) */
  form: boolean;
  default: unknown;
}

type Config = components["schemas"]["TrainConfig"];
/** Settings the form leaves to the server or the graph (kept when given, never defaulted). */
type Unshown = "eps" | "max_steps" | "dtype" | "input" | "target" | "output";
export type TrainSettings = Required<Omit<Config, Unshown>> &
  Partial<Pick<Config, Unshown>> & { [extra: string]: unknown };

/** One property of the JSON schema, as pydantic writes it. */
interface Property {
  type?: string;
  enum?: string[];
  anyOf?: Property[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  title?: string;
  description?: string;
  "x-live"?: boolean;
  "x-group"?: string;
  "x-form"?: boolean;
  "x-form-default"?: unknown;
  "x-when"?: Record<string, string[]>;
  "x-step"?: number;
  "x-order"?: number;
}

function specOf(name: string, p: Property): SettingSpec {
  const alts = p.anyOf ?? [p];
  const t = alts.find((a) => a.type !== "null") ?? p;
  const kind: FieldKind = t.enum
    ? "choice"
    : t.type === "integer"
      ? "int"
      : t.type === "boolean"
        ? "bool"
        : "float";
  const when = p["x-when"];
  return {
    name,
    label: p.title ?? name,
    kind,
    choices: t.enum,
    min: t.minimum ?? t.exclusiveMinimum,
    max: t.maximum ?? t.exclusiveMaximum,
    minExclusive: t.exclusiveMinimum !== undefined,
    maxExclusive: t.exclusiveMaximum !== undefined,
    step: p["x-step"],
    nullable: alts.some((a) => a.type === "null"),
    doc: p.description ?? "",
    when: when
      ? (c) => Object.entries(when).every(([k, vs]) => vs.includes(String(c[k])))
      : undefined,
    live: !!p["x-live"],
    group: (p["x-group"] ?? "run") as SettingSpec["group"],
    form: p["x-form"] !== false,
    default: p["x-form-default"] ?? p.default ?? null,
  };
}

const PROPERTIES = (schema as { properties: Record<string, Property> }).properties;

/** Every setting of the training config, in declaration order. */
export const ALL_SETTINGS: SettingSpec[] = Object.entries(PROPERTIES)
  .sort(([, a], [, b]) => (a["x-order"] ?? 0) - (b["x-order"] ?? 0))
  .map(([name, p]) => specOf(name, p));

/** The settings the form offers. */
export const SETTINGS: SettingSpec[] = ALL_SETTINGS.filter((s) => s.form);

export const DEFAULT_SETTINGS: TrainSettings = Object.fromEntries(
  SETTINGS.map((s) => [s.name, s.default]),
) as TrainSettings;

export const GROUPS: { id: SettingSpec["group"]; label: string }[] = [
  { id: "method", label: "Method" },
  { id: "optimizer", label: "Optimiser" },
  { id: "schedule", label: "Schedule" },
  { id: "regularization", label: "Regularisation" },
  { id: "run", label: "Run" },
];

export const LIVE = new Set(ALL_SETTINGS.filter((s) => s.live).map((s) => s.name));

export type Preset = "full" | "sgd" | "mini";

export const PRESETS: { id: Preset; label: string; title: string; batch: number | null }[] = [
  {
    id: "full",
    label: "Full batch",
    title: "Gradient descent: every step uses the whole training set",
    batch: null,
  },
  { id: "sgd", label: "SGD", title: "Stochastic gradient descent: one sample per step", batch: 1 },
  { id: "mini", label: "Mini-batch", title: "Mini-batch SGD: 32 samples per step", batch: 32 },
];

export function presetOf(batch: number | null): Preset | null {
  if (batch === null) return "full";
  if (batch === 1) return "sgd";
  return batch > 1 ? "mini" : null;
}

const BY_NAME = new Map(ALL_SETTINGS.map((s) => [s.name, s]));

/** Settings from a run's or an example's config (keys the config does not declare are dropped). */
export function settingsFrom(config: Record<string, unknown> | null | undefined): TrainSettings {
  const out: TrainSettings = { ...DEFAULT_SETTINGS };
  if (!config) return out;
  for (const [k, v] of Object.entries(config)) {
    const spec = BY_NAME.get(k);
    if (!spec) continue;
    if (spec.form) out[k] = v;
    else if (spec.group === "graph" && v != null) out[k] = v; // which node is the input…
    // others (max_steps, dtype, eps) are the server's or rare: a run's config has them set
  }
  return out;
}

/** The run's `train` body: every setting, in the engine's names. */
export function configOf(s: TrainSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === undefined) continue;
    out[k] = v;
  }
  return out;
}
