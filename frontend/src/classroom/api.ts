import { ApiError, request } from "../api/client";
import type { GraphDoc } from "../api/types";
import type { UpdateSettings } from "./batch";
import type { JacobianResult } from "./jacobian";
import type {
  ExplainResult,
  GradcheckResult,
  SessionCreated,
  SessionRead,
  SessionView,
  Tensor,
} from "./types";

/** The classroom's calls: explain one sample, check gradients, broadcast a session. */

const call = request;

const json = (body: unknown) => JSON.stringify(body);
const enc = encodeURIComponent;

/** How many entries of each item a one-click gradient check perturbs (large matrices are sampled). */
export const GRADCHECK_PER_ITEM = 32;

export const classroomApi = {
  /** With `run`, the run's trained parameters (at `run.step`, when the server still has them). */
  explain: (
    graph: GraphDoc,
    inputs: Record<string, Tensor> | null,
    seed = 0,
    run: { id: string; step?: number | null } | null = null,
  ) =>
    call<ExplainResult>("/explain", {
      method: "POST",
      body: json({
        graph,
        ...(inputs ? { inputs } : {}),
        seed,
        ...(run ? { run_id: run.id, ...(run.step != null ? { run_step: run.step } : {}) } : {}),
      }),
    }),
  /** A mini-batch of P ≤ 16 samples: costs, their mean, per-sample gradients, one update. */
  explainBatch: (
    graph: GraphDoc,
    inputs: Record<string, Tensor[]>,
    seed: number,
    run: { id: string; step?: number | null } | null,
    options: { sample?: number; training?: boolean; update?: UpdateSettings },
  ) =>
    call<ExplainResult>("/explain", {
      method: "POST",
      body: json({
        graph,
        inputs,
        seed,
        ...options,
        ...(run ? { run_id: run.id, ...(run.step != null ? { run_step: run.step } : {}) } : {}),
      }),
    }),
  /** Both Jacobians of `node` at the sample explained (same weights as the explain). */
  jacobian: (
    graph: GraphDoc,
    node: string,
    inputs: Record<string, Tensor>,
    seed = 0,
    run: { id: string; step?: number | null } | null = null,
  ) =>
    call<JacobianResult>("/jacobian", {
      method: "POST",
      body: json({
        graph,
        node,
        inputs,
        seed,
        ...(run ? { run_id: run.id, ...(run.step != null ? { run_step: run.step } : {}) } : {}),
      }),
    }),
  gradcheck: (graph: GraphDoc, inputs: Record<string, Tensor>, seed = 0) =>
    call<GradcheckResult>("/gradcheck", {
      method: "POST",
      body: json({ graph, inputs, seed, per_item: GRADCHECK_PER_ITEM }),
    }),
  createSession: (graph: GraphDoc, view: SessionView) =>
    call<SessionCreated>("/sessions", { method: "POST", body: json({ graph, view }) }),
  session: (id: string) => call<SessionRead>(`/sessions/${enc(id)}`),
  updateSession: (id: string, token: string, patch: { graph?: GraphDoc; view?: SessionView }) =>
    call<SessionRead>(`/sessions/${enc(id)}`, {
      method: "PATCH",
      body: json(patch),
      headers: { "X-Edit-Token": token },
    }),
  endSession: (id: string, token: string) =>
    call<null>(`/sessions/${enc(id)}`, { method: "DELETE", headers: { "X-Edit-Token": token } }),
  datasets: () =>
    call<{ name: string; title: string; task: string; features: number; input_shape: number[] }[]>(
      "/datasets",
    ),
  /** Rows as in the dataset (not normalised): explain takes raw samples, and the server
   * normalises them like a trained run's data when it explains with that run. */
  dataset: (name: string, limit = 200) =>
    call<{ x: number[][]; y: unknown[]; task: string }>(
      `/datasets/${enc(name)}?limit=${limit}&normalize=false`,
    ),
};

export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
