// Answers of the real backend (POST /api/explain, GET /api/ops), recorded for the unit tests:
// the notes-style two-layer network and a fan-out graph (Duplicate, Add).
import type { GraphDoc, OpSpec } from "../api/types";
import data from "./fixtures/explain.json";
import type { ExplainResult } from "./types";

export const OPS = data.ops as unknown as OpSpec[];
export const OP_INDEX: Record<string, OpSpec> = Object.fromEntries(OPS.map((o) => [o.name, o]));
export const TWO_LAYER = data.two.graph as GraphDoc;
export const TWO_RESULT = data.two.result as unknown as ExplainResult;
export const FAN = data.fan.graph as GraphDoc;
export const FAN_RESULT = data.fan.result as unknown as ExplainResult;
