// REST calls of the training views: datasets, runs and their control. Edit tokens of runs
// this browser started live in localStorage, like the graphs' tokens (api/client.ts).
import { ApiError, request } from "../api/client";
import type {
  DatasetCreated,
  DatasetInfo,
  DatasetSample,
  DatasetSpec,
  MetricPoint,
  PoolLoad,
  RunCreated,
  RunRead,
  TrainConfig,
} from "./types";

/** A REST call, with the run's edit token when it controls a run. */
const call = <T>(path: string, init?: RequestInit & { token?: string | null }): Promise<T> => {
  const { token, ...rest } = init ?? {};
  return request<T>(path, {
    ...rest,
    headers: { ...(token ? { "X-Edit-Token": token } : {}), ...rest.headers },
  });
};

const enc = encodeURIComponent;
const RUN_TOKEN = "blockprop:runtoken:";

export const runTokens = {
  get: (id: string) => localStorage.getItem(RUN_TOKEN + id),
  set: (id: string, token: string) => localStorage.setItem(RUN_TOKEN + id, token),
};

/** Query string of a dataset spec, for GET /api/datasets/{name}. */
export function datasetQuery(spec: DatasetSpec, limit = 400): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(spec)) {
    if (k === "name" || v === null || v === undefined || v === "") continue;
    q.set(k, String(v));
  }
  q.set("limit", String(limit));
  return q.toString();
}

export type Control = "pause" | "resume" | "stop" | "step";

export const trainApi = {
  datasets: () => call<DatasetInfo[]>("/datasets"),
  sample: (spec: DatasetSpec, signal?: AbortSignal) =>
    call<DatasetSample>(`/datasets/${enc(spec.name)}?${datasetQuery(spec)}`, { signal }),
  upload: (name: string, csv: string) =>
    call<DatasetCreated>("/datasets", { method: "POST", body: JSON.stringify({ name, csv }) }),
  createRun: (body: {
    graph: unknown;
    graph_id?: string | null;
    dataset: DatasetSpec;
    train: TrainConfig;
    name?: string;
    paused?: boolean;
  }) => call<RunCreated>("/runs", { method: "POST", body: JSON.stringify(body) }),
  run: (id: string) => call<RunRead>(`/runs/${enc(id)}`),
  runs: (graphId: string | null, ids: string[]) => {
    const q = new URLSearchParams();
    if (graphId) q.set("graph_id", graphId);
    if (ids.length) q.set("ids", ids.join(","));
    return call<RunRead[]>(`/runs?${q}`);
  },
  metrics: (id: string) =>
    call<{ run_id: string; last_seq: number; points: MetricPoint[] }>(`/runs/${enc(id)}/metrics`),
  control: (id: string, action: Control, token: string, n?: number) =>
    call<RunRead>(`/runs/${enc(id)}/${action}`, {
      method: "POST",
      token,
      body: action === "step" ? JSON.stringify({ n: n ?? 1 }) : undefined,
    }),
  /** How busy the server's training pool is. */
  load: (signal?: AbortSignal) => call<PoolLoad>("/load", { signal }),
  update: (id: string, values: Record<string, number>, token: string) =>
    call<RunRead>(`/runs/${enc(id)}`, { method: "PATCH", token, body: JSON.stringify(values) }),
};

export const describeError = (err: unknown) =>
  err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
