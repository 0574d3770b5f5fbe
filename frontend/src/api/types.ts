// Wire types of the Blockprop REST API, narrowed from the generated OpenAPI types.
//
// src/api/schema.d.ts is generated from frontend/openapi.json (`npm run gen:api`); the backend
// test tests/api/test_openapi_fresh.py keeps openapi.json in step with the server, and
// src/api/schema.test.ts keeps schema.d.ts in step with openapi.json. Only narrowing lives
// here: fields the server types loosely (free-form objects) are given the shape the UI reads.
import type { components } from "./schema";

type S = components["schemas"];

/** The declared fields of a schema, without the catch-all `[key: string]: unknown` that
 * `additionalProperties: true` adds (it would swallow every field under Omit). */
type Known<T> = {
  [K in keyof T as string extends K ? never : K]: T[K];
};

export type Category = OpSpec["category"];
export type ParamSpec = Known<S["OpParam"]>;
export type PortSpec = Known<S["OpInput"]>;
export type OutputSpec = Known<S["OpOutput"]>;
export type TrainableSpec = Known<S["OpTrainable"]>;

export type OpSpec = Omit<
  Known<S["OpSpec"]>,
  "inputs" | "outputs" | "params" | "parameters" | "formula"
> & {
  inputs: PortSpec[];
  outputs: OutputSpec[];
  params: ParamSpec[];
  parameters: TrainableSpec[];
  formula: Known<S["OpFormula"]>;
  /** Optional drawing hint from the op registry; derived from the fields above when absent. */
  notation?: string | null;
};

export type ParamValue = unknown;

/** A node as the document stores it; `ui` narrowed to the position the editor writes. */
export type GraphNode = Omit<S["Node"], "ui"> & {
  ui?: { x: number; y: number; [k: string]: unknown };
};

/** The graph document (version 1): the request body of validate, create and update. */
export type GraphDoc = Omit<S["Graph"], "nodes" | "version"> & {
  version: 1;
  nodes: GraphNode[];
};

export type ApiErrorBody = Known<S["ErrorDetail"]>;

export type ValidateResult = Omit<Known<S["ValidationResult"]>, "shapes"> & {
  /** "node" or "node:port" → per-sample shape (no batch axis) */
  shapes: Record<string, number[]>;
};

export type ExampleSummary = Known<S["ExampleSummary"]>;
export type Example = Omit<Known<S["Example"]>, "graph"> & { graph: GraphDoc };
export type GraphSummary = Known<S["GraphSummary"]>;
export type StoredGraph = Omit<Known<S["GraphRead"]>, "graph"> & { graph: GraphDoc };
export type CreatedGraph = Omit<Known<S["GraphCreated"]>, "graph"> & { graph: GraphDoc };

// Compile-time guard: what the editor sends must be a valid request body.
type Assert<T extends true> = T;
export type _DocIsRequestBody = Assert<GraphDoc extends S["Graph"] ? true : false>;
