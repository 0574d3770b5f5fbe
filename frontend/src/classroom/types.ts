// Wire types of the classroom endpoints, narrowed from the generated OpenAPI types.
import type { components } from "../api/schema";
import type { GraphDoc } from "../api/types";

type S = components["schemas"];
type Known<T> = { [K in keyof T as string extends K ? never : K]: T[K] };

/** A per-sample value: a number, a nested list of numbers, or null (not finite / absent). */
export type Tensor = number | null | Tensor[];

export type ExplainFeed = Known<S["ExplainFeed"]>;
export type ExplainConsumer = Known<S["ExplainConsumer"]>;
export type ExplainOutput = Omit<Known<S["ExplainOutput"]>, "value" | "grad" | "consumers"> & {
  value: Tensor;
  grad: Tensor | undefined;
  consumers: ExplainConsumer[];
};
export type ExplainNode = Omit<Known<S["ExplainNode"]>, "outputs" | "env" | "vjps"> & {
  outputs: ExplainOutput[];
  env: Record<string, Tensor | string | boolean>;
  vjps: Record<string, Tensor>;
};
/** A port of a module instance seen as one block: its flat value key, value and dC/d(value). */
export type ExplainPort = Omit<Known<S["ExplainPort"]>, "value" | "grad"> & {
  value: Tensor;
  grad?: Tensor;
};
/** A module instance as one block (the notes' G(x, w)); `nodes` are its inner nodes. */
export type ExplainBlock = Omit<Known<S["ExplainBlock"]>, "inputs" | "outputs" | "vjps"> & {
  inputs: Record<string, ExplainPort>;
  outputs: Record<string, ExplainPort>;
  /** input port → the block's VJP: the sum of what its inner nodes send back to that input */
  vjps: Record<string, Tensor>;
};
export type InputNormalization = Known<S["InputNormalization"]>;
export type ExplainRun = Omit<Known<S["ExplainRun"]>, "normalized"> & {
  normalized: Record<string, InputNormalization>;
};
export type ExplainResult = Omit<
  Known<S["ExplainResult"]>,
  "nodes" | "inputs" | "state" | "param_grads" | "feeds" | "run" | "blocks"
> & {
  /** module instances as whole blocks, parents first (absent in older answers) */
  blocks?: ExplainBlock[];
  /** with trained parameters: the run, their step and the input normalisation applied */
  run?: ExplainRun | null;
  feeds: ExplainFeed[];
  nodes: ExplainNode[];
  inputs: Record<string, Tensor>;
  state: Record<string, Record<string, Tensor>>;
  param_grads: Record<string, Record<string, Tensor>>;
};

export type GradcheckResult = Known<S["GradcheckResult"]>;

export type ExplainPosition = Known<S["ExplainPosition"]>;
export type SessionView = Omit<Known<S["SessionView"]>, "gradcheck" | "explain"> & {
  explain?: ExplainPosition | null;
  gradcheck?: GradcheckResult | null;
};
export type SessionRead = Omit<Known<S["SessionRead"]>, "graph" | "view"> & {
  graph: GraphDoc;
  view: SessionView;
};
export type SessionCreated = SessionRead & { edit_token: string; follow_path: string };

/** Frames of WS /api/sessions/{id}/stream. */
export type SessionFrame =
  | { type: "hello"; session: SessionRead }
  | {
      type: "state";
      version: number;
      graph_version: number;
      view: SessionView;
      followers: number;
      graph?: GraphDoc;
    }
  | { type: "closed"; reason: string };
