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

const CLIENT_ID_KEY = "blockprop:clientId";
const CLIENT_ID = /^[A-Za-z0-9_-]{8,64}$/;
/** the id of this page when localStorage cannot keep one (storage disabled or full) */
let pageClientId: string | null = null;

/** A fresh client id: 128 random bits as 32 hex digits (`crypto.getRandomValues` works on a
 * plain-http classroom server too, where `randomUUID` does not). */
export function newClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Who this browser is to the server (`X-Client-Id` on every request): the per-client cap on
 * runs live or waiting counts by it, so a classroom behind one address (a NAT) is not one
 * client. Made once and kept in `localStorage["blockprop:clientId"]`; a kept value that is not
 * a valid id is replaced.
 */
export function clientId(): string {
  try {
    const kept = localStorage.getItem(CLIENT_ID_KEY);
    if (kept && CLIENT_ID.test(kept)) return kept;
    const id = newClientId();
    localStorage.setItem(CLIENT_ID_KEY, id);
    return id;
  } catch {
    pageClientId ??= newClientId();
    return pageClientId;
  }
}

/** One call of the REST API: JSON in (a string body) and out, the API's error shape as an
 * `ApiError`. The one place every part of the frontend fetches through; every call says who
 * this browser is (`clientId`). */
export async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`/api${path}`, {
    ...init,
    headers: {
      Accept: "application/json",
      "X-Client-Id": clientId(),
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
  /** A run as a document: its graph, trained state and normalisation, dataset, settings. */
  runGraph: (runId: string) => request<GraphDoc>(`/runs/${enc(runId)}/graph`),
  createGraph: (graph: GraphDoc) =>
    request<CreatedGraph>("/graphs", { method: "POST", body: JSON.stringify({ graph }) }),
  updateGraph: (id: string, graph: GraphDoc, token: string, revision?: number | null) =>
    request<StoredGraph>(`/graphs/${enc(id)}`, {
      method: "PUT",
      body: JSON.stringify(revision == null ? { graph } : { graph, revision }),
      headers: { "X-Edit-Token": token },
    }),
};
