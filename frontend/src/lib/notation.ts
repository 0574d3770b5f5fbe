import type { OpSpec } from "../api/types";

/** How a node is drawn, in the block-diagram notation of the course notes. */
export type Notation = "observed" | "parameter" | "constant" | "function" | "cost";

const KNOWN: readonly Notation[] = ["observed", "parameter", "constant", "function", "cost"];

/**
 * Derived from the op spec only (never from the op's name): the registry gives `notation`
 * (a constant is drawn unlike observed data); without it, a variable that owns trainable
 * parameters is a parameter node and any other variable is observed data.
 */
/** The registry's words for the drawings the canvas names otherwise. */
const FROM_REGISTRY: Record<string, Notation> = { trainable: "parameter", fixed: "constant" };

export function notationOf(spec: OpSpec | undefined): Notation {
  if (!spec) return "function";
  const hint = spec.notation ? (FROM_REGISTRY[spec.notation] ?? spec.notation) : null;
  if (hint && (KNOWN as readonly string[]).includes(hint)) return hint as Notation;
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
