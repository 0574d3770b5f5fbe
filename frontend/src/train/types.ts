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

export type RunRead = Omit<Known<S["RunRead"]>, "config" | "dataset" | "error"> & {
  config: TrainConfig;
  dataset: DatasetSpec;
  error?: { code: string; message: string } | null;
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
export type StatusFrame = Known<S["StreamStatus"]>;
export type ErrorFrame = Known<S["StreamError"]>;
export type ServerFrame =
  | HelloFrame
  | MetricsFrame
  | SnapshotFrame
  | BoundaryFrame
  | StatusFrame
  | ErrorFrame
  | { type: "ack" | "auth"; [k: string]: unknown };

export const LIVE_STATUSES: readonly RunStatus[] = ["starting", "running", "paused"];
export const isLive = (s: RunStatus | undefined) => !!s && LIVE_STATUSES.includes(s);
