import type { OpSpec } from "../api/types";

/** How a node is drawn, in the block-diagram notation of the course notes. */
export type Notation = "observed" | "parameter" | "function" | "cost";

const KNOWN: readonly Notation[] = ["observed", "parameter", "function", "cost"];

/**
 * Derived from the op spec only (never from the op's name): the registry may give an explicit
 * `notation`; otherwise a variable that owns trainable parameters is a parameter node and any
 * other variable is observed data.
 */
export function notationOf(spec: OpSpec | undefined): Notation {
  if (!spec) return "function";
  if (spec.notation && (KNOWN as readonly string[]).includes(spec.notation)) {
    return spec.notation as Notation;
  }
  if (spec.category === "cost") return "cost";
  if (spec.category === "variable") return spec.parameters.length > 0 ? "parameter" : "observed";
  return "function";
}

export const CATEGORY_TITLES: Record<string, string> = {
  variable: "Variables",
  function: "Functions",
  cost: "Costs",
  module: "Modules (this graph's)",
};

/** Shapes exclude the batch axis; [] is a scalar per sample. Written as the engine's
 * messages write them ("[2, 3]"), so a label and an error about it read alike. */
export function formatShape(shape: readonly number[] | undefined | null): string {
  if (!shape) return "";
  if (shape.length === 0) return "scalar";
  return `[${shape.join(", ")}]`;
}
