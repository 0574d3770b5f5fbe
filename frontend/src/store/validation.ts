import type { ApiErrorBody, ValidateResult } from "../api/types";

export type ValidationStatus = "empty" | "pending" | "valid" | "invalid" | "offline";

export interface Validation {
  status: ValidationStatus;
  /** node id → 1-based position in the topological order */
  order: Record<string, number>;
  shapes: Record<string, number[]>;
  errors: ApiErrorBody[];
  /** errors indexed by node, so a node component selects its own list by reference */
  byNode: Record<string, ApiErrorBody[]>;
  message?: string;
}

export const emptyValidation = (status: ValidationStatus = "empty"): Validation => ({
  status,
  order: {},
  shapes: {},
  errors: [],
  byNode: {},
});

/** Indexes a validate answer for the canvas: order by node, errors by node. */
export function indexValidation(v: ValidateResult): Validation {
  const byNode: Record<string, ApiErrorBody[]> = {};
  for (const err of v.errors) {
    for (const id of err.nodes ?? []) byNode[id] = [...(byNode[id] ?? []), err];
  }
  return {
    status: v.ok ? "valid" : "invalid",
    order: Object.fromEntries(v.order.map((id, i) => [id, i + 1])),
    shapes: v.shapes ?? {},
    errors: v.errors,
    byNode,
  };
}
