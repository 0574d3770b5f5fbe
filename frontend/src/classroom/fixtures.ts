// Answers of the real backend (POST /api/explain, GET /api/ops), recorded for the unit tests:
// the notes-style two-layer network, a fan-out graph (Duplicate, Add) and a module used twice
// (fixtures/record_modules.py).
import type { GraphDoc, OpSpec } from "../api/types";
import data from "./fixtures/explain.json";
import modules from "./fixtures/explain_modules.json";
import type { ExplainResult } from "./types";

export const OPS = data.ops as unknown as OpSpec[];
export const OP_INDEX: Record<string, OpSpec> = Object.fromEntries(OPS.map((o) => [o.name, o]));
export const TWO_LAYER = data.two.graph as GraphDoc;
export const TWO_RESULT = data.two.result as unknown as ExplainResult;
export const FAN = data.fan.graph as GraphDoc;
export const FAN_RESULT = data.fan.result as unknown as ExplainResult;
/** `mix` (h, k → tanh(linear(h)) + k) used twice, b2 tied to b1; t runs between b1's inner nodes. */
export const MODULES = modules.graph as unknown as GraphDoc;
export const MODULES_RESULT = modules.result as unknown as ExplainResult;
/** One instance of `mix` whose two ports are both fed x. */
export const SHARED_RESULT = modules.shared.result as unknown as ExplainResult;
