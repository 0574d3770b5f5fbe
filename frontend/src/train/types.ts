// Wire types of training runs and their stream, narrowed from the generated OpenAPI types
// (src/api/schema.d.ts). Only narrowing lives here, as in src/api/types.ts.
import type { components } from "../api/schema";

type S = components["schemas"];
type Known<T> = { [K in keyof T as string extends K ? never : K]: T[K] };

export type RunStatus = S["RunRead"]["status"];
export type DatasetInfo = Known<S["DatasetInfo"]>;
export type DatasetParam = Known<S["DatasetParam"]>;
export type DatasetSample = Known<S["DatasetSample"]>;
export type DatasetCreated = Known<S["DatasetCreated"]>;
export type Histogram = Known<S["Histogram"]>;
export type TensorSummary = Omit<Known<S["TensorSummary"]>, "hist"> & { hist: Histogram };
export type NodeSummary = { value: TensorSummary; grad?: TensorSummary | null };

/** The dataset a run trains on: a built-in name or an upload id, with its parameters. */
export interface DatasetSpec {
  name: string;
  n?: number | null;
  noise?: number | null;
  seed: number;
  test_fraction: number;
  normalize: boolean;
  /** the dataset's own parameters (turns, classes, …) */
  [extra: string]: unknown;
}

export type TrainConfig = Record<string, unknown>;

/** Where a `queued` run stands: `position` 1 starts next, `ahead` runs wait before it,
 * `eta_seconds` about when it may start (null: not foreseeable). */
export type QueuePlace = Known<S["QueuePlace"]>;
/** How busy the server's training pool is (`GET /api/load`). */
export type PoolLoad = Known<S["Load"]>;

export type RunRead = Omit<
  Known<S["RunRead"]>,
  "config" | "dataset" | "error" | "live" | "queue"
> & {
  config: TrainConfig;
  dataset: DatasetSpec;
  error?: { code: string; message: string } | null;
  /** a worker holds the run (starting, running, paused, or diverged and held on its last
   * finite parameters): it can be controlled. Missing from an older server: see `isLive`. */
  live?: boolean;
  /** status `queued`: where it stands */
  queue?: QueuePlace | null;
};
export type RunCreated = RunRead & { edit_token: string };

export type MetricPoint = Known<S["MetricPoint"]>;

export type HelloFrame = Omit<Known<S["StreamHello"]>, "run"> & { run: RunRead };
export type MetricsFrame = Omit<Known<S["StreamMetrics"]>, "points"> & { points: MetricPoint[] };
export type SnapshotFrame = {
  type: "snapshot";
  step: number;
  epoch: number;
  nodes: Record<string, NodeSummary>;
  params: Record<string, Record<string, TensorSummary>>;
  param_grads?: Record<string, Record<string, TensorSummary>>;
};
export type BoundaryFrame = Omit<Known<S["StreamBoundary"]>, "points"> & {
  points: { train: number[][]; test: number[][] };
};
export type StatusFrame = Omit<Known<S["StreamStatus"]>, "live"> & {
  live?: boolean;
  /** status `queued`: where it stands now (re-sent whenever the queue moves) */
  queue?: QueuePlace | null;
};
export type ErrorFrame = Known<S["StreamError"]>;
export type ServerFrame =
  | HelloFrame
  | MetricsFrame
  | SnapshotFrame
  | BoundaryFrame
  | StatusFrame
  | ErrorFrame
  | { type: "ack" | "auth"; [k: string]: unknown };

/** The statuses a worker always holds a run in. A `diverged` run may be held too (paused on
 * its last finite parameters): only the server's `live` flag tells. */
export const LIVE_STATUSES: readonly RunStatus[] = ["starting", "running", "paused"];

/** Whether a worker holds the run, so that it can be controlled (PATCHed, resumed, stepped,
 * stopped): the server's `live` flag when it sends one, else the status (an older server
 * sends no flag and holds no diverged run). */
export const isLive = (s: RunStatus | undefined, live?: boolean | null) =>
  typeof live === "boolean" ? live : !!s && LIVE_STATUSES.includes(s);

/** A run that holds a place in the pool or waits for one (live or queued): ■ stops it, and a
 * new run from this browser stops it first. */
export const takesPlace = (run: { status: RunStatus; live: boolean } | null | undefined) =>
  !!run && (run.live || run.status === "queued");

/** A diverged run the worker holds on its last finite parameters: lower the learning rate and
 * resume it (or step it, or stop it). */
export const isHeld = (run: { status: RunStatus; live: boolean } | null | undefined) =>
  !!run && run.status === "diverged" && run.live;
