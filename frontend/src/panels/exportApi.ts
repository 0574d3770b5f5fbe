// Model export: POST /api/export/pytorch and /api/export/onnx (downloads, not JSON), and the
// trained state of a run (GET /api/runs/{id}/state) to export with. The graph JSON export
// stays in store/documents.ts (`exportFile`): it needs no server.
import { ApiError } from "../api/client";
import type { ApiErrorBody, GraphDoc } from "../api/types";

export type ModelFormat = "pytorch" | "onnx";

export type GraphState = NonNullable<GraphDoc["state"]>;

export interface ExportBody {
  graph: GraphDoc;
  /** the engine's initialisation seed, for parameters the graph's state does not give */
  seed?: number;
  /** ONNX only: false gives an inference model without the targets and what needs them */
  targets?: boolean;
}

export interface RunState {
  run_id: string;
  step: number;
  state: GraphState;
  /** how the run scaled each input's feed: the export's first step, so it takes raw data */
  normalized?: NonNullable<GraphDoc["normalization"]>;
}

const EXT: Record<ModelFormat, string> = { pytorch: ".py", onnx: ".onnx" };
const ACCEPT: Record<ModelFormat, string> = {
  pytorch: "text/x-python, application/json",
  onnx: "application/onnx, application/json",
};

/** A file name stem from a graph name, as the server makes it: "Two-spiral classifier" →
 * "two_spiral_classifier" (used when the reply names no file). */
export function fileStem(name: string | null | undefined, fallback = "model"): string {
  const stem = (name ?? "")
    .replace(/[^A-Za-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .toLowerCase()
    .slice(0, 64);
  return stem || fallback;
}

/** The file name a Content-Disposition header gives, if any (`filename*=` or `filename=`). */
export function dispositionFilename(header: string | null): string | null {
  if (!header) return null;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // fall through to the plain parameter
    }
  }
  const plain = /filename\s*=\s*(?:"([^"]*)"|([^;]+))/.exec(header);
  const name = (plain?.[1] ?? plain?.[2] ?? "").trim();
  // never a path: only the last segment, and nothing hidden
  const base = name.split(/[\\/]/).pop() ?? "";
  return base && !base.startsWith(".") ? base : null;
}

async function apiError(res: Response): Promise<ApiError> {
  let body: ApiErrorBody | undefined;
  try {
    body = ((await res.json()) as { error?: ApiErrorBody } | null)?.error;
  } catch {
    // not JSON (a proxy's page): the status says it
  }
  return new ApiError(
    res.status,
    body ?? { code: `http_${res.status}`, message: `${res.status} ${res.statusText}`.trim() },
  );
}

/** Asks the server for the model; the reply's bytes and the file name to save them under.
 * Throws an `ApiError` carrying the server's message (which names the node) on a refusal. */
export async function requestExport(
  format: ModelFormat,
  body: ExportBody,
): Promise<{ blob: Blob; filename: string }> {
  const payload: ExportBody = { graph: body.graph };
  if (body.seed != null) payload.seed = body.seed;
  if (format === "onnx" && body.targets === false) payload.targets = false;
  const res = await fetch(`/api/export/${format}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: ACCEPT[format] },
    body: JSON.stringify(payload),
  });
  if (!res.ok) throw await apiError(res);
  const blob = await res.blob();
  const filename =
    dispositionFilename(res.headers.get("Content-Disposition")) ??
    `${fileStem(body.graph.name)}${EXT[format]}`;
  return { blob, filename };
}

/** The trained parameters of a run, as a graph `state`, and the step they are from. */
export async function fetchRunState(runId: string): Promise<RunState> {
  const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/state`, {
    headers: { Accept: "application/json" },
  });
  if (!res.ok) throw await apiError(res);
  return (await res.json()) as RunState;
}

/** Only the entries of `state` for nodes the graph still has (a run's state may name nodes
 * deleted since); null when nothing is left. */
export function stateFor(doc: GraphDoc, state: GraphState | null | undefined): GraphState | null {
  if (!state) return null;
  const ids = new Set(doc.nodes.map((n) => n.id));
  const kept = Object.fromEntries(Object.entries(state).filter(([id]) => ids.has(id)));
  return Object.keys(kept).length ? kept : null;
}

/** Hands a blob to the browser as a download. */
export function saveBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
