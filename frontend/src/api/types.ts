// Wire types of the Blockprop REST API.
//
// TEMPORARY: hand-written from the contract in DESIGN.md until the backend's OpenAPI document
// lands in frontend/openapi.json; then `npm run gen:api` writes src/api/schema.d.ts and these
// become aliases of `components["schemas"][...]`. Keep them narrow: only what the UI reads.

export type Category = "variable" | "function" | "cost";

/** "tensor" is a number or nested list (a constant's value), edited as JSON. */
export type ParamType = "int" | "float" | "bool" | "str" | "shape" | "ints" | "floats" | "tensor";

export interface ParamSpec {
  name: string;
  type: ParamType | string;
  default?: unknown;
  min?: number | null;
  max?: number | null;
  choices?: (string | number)[] | null;
  doc?: string;
  /** required params have no default: the user must set them */
  required?: boolean;
}

export interface PortSpec {
  name: string;
  doc?: string;
}

export interface TrainableSpec {
  name: string;
  shape_rule?: string;
}

export interface OpSpec {
  name: string;
  label: string;
  category: Category;
  doc: string;
  inputs: PortSpec[];
  outputs: PortSpec[];
  params: ParamSpec[];
  parameters: TrainableSpec[];
  differentiable: boolean;
  formula: { forward?: string | null; backward?: string | null };
  /** Optional drawing hint from the op registry; derived from the fields above when absent. */
  notation?: string | null;
}

export type ParamValue = unknown;

export interface GraphNode {
  id: string;
  op: string;
  params?: Record<string, ParamValue>;
  /** input port → "node" or "node:port" */
  inputs?: Record<string, string>;
  ui?: { x: number; y: number; [k: string]: unknown };
}

export interface GraphDoc {
  version: 1;
  name: string;
  nodes: GraphNode[];
  state?: Record<string, Record<string, unknown>>;
}

export interface ApiErrorBody {
  code: string;
  message: string;
  nodes?: string[] | null;
  port?: string | null;
}

export interface ValidateResult {
  ok: boolean;
  order: string[];
  /** "node" or "node:port" → shape without the batch axis */
  shapes: Record<string, number[]>;
  errors: ApiErrorBody[];
}

export interface ExampleSummary {
  id: string;
  title: string;
  description: string;
}

export interface Example extends ExampleSummary {
  graph: GraphDoc;
  dataset?: unknown;
  train?: unknown;
}

export interface GraphSummary {
  id: string;
  name: string;
  updated_at?: string;
}

export interface StoredGraph {
  id: string;
  graph: GraphDoc;
  edit_token?: string;
  name?: string;
  updated_at?: string;
}
