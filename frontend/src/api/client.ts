import type {
  ApiErrorBody,
  Example,
  ExampleSummary,
  GraphDoc,
  GraphSummary,
  OpSpec,
  StoredGraph,
  ValidateResult,
} from "./types";

/** An error response, carrying the API's shared `{"error": {...}}` body when there was one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(body.message);
  }
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`/api${path}`, {
    ...init,
    headers: {
      Accept: "application/json",
      ...(init?.body ? { "Content-Type": "application/json" } : {}),
      ...init?.headers,
    },
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (e.g. a proxy's HTML error page): report the status below.
  }
  if (!res.ok) {
    const err = (data as { error?: ApiErrorBody } | null)?.error;
    throw new ApiError(
      res.status,
      err ?? { code: `http_${res.status}`, message: `${res.status} ${res.statusText}` },
    );
  }
  return data as T;
}

const TOKEN_KEY = (id: string) => `blockprop:token:${id}`;

/** Edit tokens are kept per graph id, so whoever created a graph in this browser can update it. */
export const editTokens = {
  get: (id: string) => localStorage.getItem(TOKEN_KEY(id)),
  set: (id: string, token: string) => localStorage.setItem(TOKEN_KEY(id), token),
};

export const api = {
  ops: () => request<OpSpec[]>("/ops"),
  validate: (graph: GraphDoc, signal?: AbortSignal) =>
    request<ValidateResult>("/validate", { method: "POST", body: JSON.stringify(graph), signal }),
  examples: () => request<ExampleSummary[]>("/examples"),
  example: (id: string) => request<Example>(`/examples/${encodeURIComponent(id)}`),
  graphs: () => request<GraphSummary[]>("/graphs"),
  graph: (id: string) => request<StoredGraph>(`/graphs/${encodeURIComponent(id)}`),
  createGraph: (graph: GraphDoc) =>
    request<StoredGraph>("/graphs", { method: "POST", body: JSON.stringify({ graph }) }),
  updateGraph: (id: string, graph: GraphDoc, token: string) =>
    request<StoredGraph>(`/graphs/${encodeURIComponent(id)}`, {
      method: "PUT",
      body: JSON.stringify({ graph }),
      headers: { "X-Edit-Token": token },
    }),
};
