// The trainer settings the panel offers (the engine's TrainConfig), their presets, and how a
// run's config is built from them. Defaults match the engine's.

export type FieldKind = "int" | "float" | "bool" | "choice";

export interface SettingSpec {
  name: string;
  label: string;
  kind: FieldKind;
  choices?: string[];
  min?: number;
  max?: number;
  step?: number;
  /** null allowed (blank field) */
  nullable?: boolean;
  doc: string;
  /** shown only when this holds */
  when?: (cfg: TrainSettings) => boolean;
  /** can change while the run trains (PATCH /api/runs/{id}) */
  live?: boolean;
  group: "method" | "optimizer" | "schedule" | "regularization" | "run";
}

export interface TrainSettings {
  epochs: number;
  batch_size: number | null;
  optimizer: string;
  lr: number;
  momentum: number;
  nesterov: boolean;
  beta1: number;
  beta2: number;
  schedule: string;
  step_size: number;
  gamma: number;
  decay: number;
  l1: number;
  l1_start: number;
  l2: number;
  l2_start: number;
  dropout: number | null;
  shuffle: boolean;
  seed: number;
  eval_every: number;
  speed: number;
  [extra: string]: unknown;
}

export const DEFAULT_SETTINGS: TrainSettings = {
  epochs: 100,
  batch_size: 32,
  optimizer: "sgd",
  lr: 0.1,
  momentum: 0.9,
  nesterov: false,
  beta1: 0.9,
  beta2: 0.999,
  schedule: "constant",
  step_size: 10,
  gamma: 0.5,
  decay: 0.01,
  l1: 0,
  l1_start: 0,
  l2: 0,
  l2_start: 0,
  dropout: null,
  shuffle: true,
  seed: 0,
  eval_every: 1,
  speed: 0,
};

const opt = (name: string) => (c: TrainSettings) => c.optimizer === name;
const sched =
  (...names: string[]) =>
  (c: TrainSettings) =>
    names.includes(c.schedule);

export const SETTINGS: SettingSpec[] = [
  {
    name: "epochs",
    label: "epochs",
    kind: "int",
    min: 0,
    max: 1_000_000,
    group: "method",
    doc: "passes over the training set",
  },
  {
    name: "batch_size",
    label: "batch size",
    kind: "int",
    min: 1,
    nullable: true,
    group: "method",
    doc: "samples per step; blank: the whole training set (full-batch gradient descent)",
  },
  {
    name: "shuffle",
    label: "shuffle",
    kind: "bool",
    group: "method",
    doc: "reshuffle the training set every epoch (mini-batch and SGD)",
  },
  {
    name: "optimizer",
    label: "optimizer",
    kind: "choice",
    choices: ["sgd", "momentum", "adam"],
    group: "optimizer",
    doc: "how a step uses the gradient",
  },
  {
    name: "lr",
    label: "learning rate",
    kind: "float",
    min: 0,
    step: 0.001,
    live: true,
    group: "optimizer",
    doc: "step size; can change while the run trains",
  },
  {
    name: "momentum",
    label: "momentum",
    kind: "float",
    min: 0,
    max: 0.999,
    step: 0.05,
    live: true,
    when: opt("momentum"),
    group: "optimizer",
    doc: "fraction of the previous update kept",
  },
  {
    name: "nesterov",
    label: "Nesterov",
    kind: "bool",
    when: opt("momentum"),
    group: "optimizer",
    doc: "look-ahead momentum",
  },
  {
    name: "beta1",
    label: "β₁",
    kind: "float",
    min: 0,
    max: 0.9999,
    step: 0.01,
    when: opt("adam"),
    group: "optimizer",
    doc: "Adam: decay of the gradient's running mean",
  },
  {
    name: "beta2",
    label: "β₂",
    kind: "float",
    min: 0,
    max: 0.99999,
    step: 0.001,
    when: opt("adam"),
    group: "optimizer",
    doc: "Adam: decay of the squared gradient's running mean",
  },
  {
    name: "schedule",
    label: "lr schedule",
    kind: "choice",
    choices: ["constant", "step", "exponential", "inv_t", "cosine"],
    group: "schedule",
    doc: "learning rate over the epochs",
  },
  {
    name: "step_size",
    label: "every (epochs)",
    kind: "int",
    min: 1,
    when: sched("step"),
    group: "schedule",
    doc: "epochs between decays",
  },
  {
    name: "gamma",
    label: "decay factor γ",
    kind: "float",
    min: 0,
    max: 1,
    step: 0.05,
    when: sched("step", "exponential"),
    group: "schedule",
    doc: "lr is multiplied by γ at each decay",
  },
  {
    name: "decay",
    label: "decay",
    kind: "float",
    min: 0,
    step: 0.01,
    when: sched("inv_t"),
    group: "schedule",
    doc: "lr / (1 + decay · epoch)",
  },
  {
    name: "l1",
    label: "L1",
    kind: "float",
    min: 0,
    step: 0.0001,
    live: true,
    group: "regularization",
    doc: "adds l1·sign(W) to the weights' gradient",
  },
  {
    name: "l1_start",
    label: "L1 from epoch",
    kind: "int",
    min: 0,
    group: "regularization",
    doc: "first epoch (0-based) with L1 on",
  },
  {
    name: "l2",
    label: "L2",
    kind: "float",
    min: 0,
    step: 0.0001,
    live: true,
    group: "regularization",
    doc: "adds l2·W to the weights' gradient (weight decay)",
  },
  {
    name: "l2_start",
    label: "L2 from epoch",
    kind: "int",
    min: 0,
    group: "regularization",
    doc: "first epoch (0-based) with L2 on",
  },
  {
    name: "dropout",
    label: "dropout",
    kind: "float",
    min: 0,
    max: 0.95,
    step: 0.05,
    nullable: true,
    group: "regularization",
    doc: "overrides every dropout block's rate; blank: as drawn",
  },
  {
    name: "seed",
    label: "seed",
    kind: "int",
    min: 0,
    group: "run",
    doc: "initial weights, shuffling and dropout masks",
  },
  {
    name: "eval_every",
    label: "test every (epochs)",
    kind: "int",
    min: 1,
    group: "run",
    doc: "epochs between test-set evaluations",
  },
  {
    name: "speed",
    label: "speed (steps/s)",
    kind: "float",
    min: 0,
    step: 1,
    live: true,
    group: "run",
    doc: "at most this many steps per second, to watch it learn; 0: as fast as it goes",
  },
];

export const GROUPS: { id: SettingSpec["group"]; label: string }[] = [
  { id: "method", label: "Method" },
  { id: "optimizer", label: "Optimiser" },
  { id: "schedule", label: "Schedule" },
  { id: "regularization", label: "Regularisation" },
  { id: "run", label: "Run" },
];

export const LIVE = new Set(SETTINGS.filter((s) => s.live).map((s) => s.name));

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

/** Settings from a run's or an example's config (unknown keys kept: they are the engine's). */
export function settingsFrom(config: Record<string, unknown> | null | undefined): TrainSettings {
  const out: TrainSettings = { ...DEFAULT_SETTINGS };
  if (!config) return out;
  for (const [k, v] of Object.entries(config)) {
    if (k === "max_steps" || k === "dtype" || k === "eps") continue; // server-owned or rare
    if (k === "input" || k === "target" || k === "output") {
      if (v != null) out[k] = v;
      continue;
    }
    if (k in DEFAULT_SETTINGS) out[k] = v;
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
