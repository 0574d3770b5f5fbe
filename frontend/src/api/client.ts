import type {
  ApiErrorBody,
  CreatedGraph,
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

/** One call of the REST API: JSON in (a string body) and out, the API's error shape as an
 * `ApiError`. The one place every part of the frontend fetches through. */
export async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`/api${path}`, {
    ...init,
    headers: {
      Accept: "application/json",
      // a FormData body (uploads) sets its own multipart Content-Type
      ...(typeof init?.body === "string" ? { "Content-Type": "application/json" } : {}),
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

const TOKEN_PREFIX = "blockprop:token:";
const RECENT_KEY = "blockprop:recent";

/** Edit tokens are kept per graph id, so whoever created a graph in this browser can update it. */
export const editTokens = {
  get: (id: string) => localStorage.getItem(TOKEN_PREFIX + id),
  set: (id: string, token: string) => localStorage.setItem(TOKEN_PREFIX + id, token),
};

/**
 * The graphs this browser knows: the ones it saved (it holds their tokens) and the ones it
 * opened recently. The server never lists private graphs, so "Open" asks for these by id.
 */
export const knownGraphs = {
  ids(): string[] {
    const ids = new Set<string>(readRecent());
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key?.startsWith(TOKEN_PREFIX)) ids.add(key.slice(TOKEN_PREFIX.length));
    }
    return [...ids];
  },
  remember(id: string) {
    const recent = [id, ...readRecent().filter((x) => x !== id)].slice(0, 50);
    localStorage.setItem(RECENT_KEY, JSON.stringify(recent));
  },
};

function readRecent(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]");
    return Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
  } catch {
    return [];
  }
}

const enc = encodeURIComponent;

export const api = {
  ops: () => request<OpSpec[]>("/ops"),
  validate: (graph: GraphDoc, signal?: AbortSignal) =>
    request<ValidateResult>("/validate", { method: "POST", body: JSON.stringify(graph), signal }),
  examples: () => request<ExampleSummary[]>("/examples"),
  example: (id: string) => request<Example>(`/examples/${enc(id)}`),
  /** Summaries of the given graphs, or of the public ones when no ids are given. */
  graphs: (ids?: string[]) =>
    request<GraphSummary[]>(ids?.length ? `/graphs?ids=${enc(ids.join(","))}` : "/graphs"),
  graph: (id: string) => request<StoredGraph>(`/graphs/${enc(id)}`),
  createGraph: (graph: GraphDoc) =>
    request<CreatedGraph>("/graphs", { method: "POST", body: JSON.stringify({ graph }) }),
  updateGraph: (id: string, graph: GraphDoc, token: string, revision?: number | null) =>
    request<StoredGraph>(`/graphs/${enc(id)}`, {
      method: "PUT",
      body: JSON.stringify(revision == null ? { graph } : { graph, revision }),
      headers: { "X-Edit-Token": token },
    }),
};
