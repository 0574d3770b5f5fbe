import type { OpSpec, ParamSpec, ParamValue } from "../api/types";

/** Text form of a param for an input field, and back. List types are typed as "2, 3". */
export function formatParam(value: ParamValue): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A param as written on its block, compactly: a per-axis value as `2×3`, a list as `[2,3]`. */
export function compactParam(spec: ParamSpec, value: ParamValue): string {
  if (!Array.isArray(value)) return String(value);
  return spec.type === "ints" ? value.join("×") : `[${value.join(",")}]`;
}

/** A one-line reminder of the settings that matter: values that differ from the default. */
export function paramSummary(spec: OpSpec | undefined, params: Record<string, ParamValue>): string {
  if (!spec) return "";
  const parts: string[] = [];
  for (const p of spec.params) {
    const v = params[p.name];
    if (v === undefined || JSON.stringify(v) === JSON.stringify(p.default)) continue;
    parts.push(`${p.name}=${compactParam(p, v)}`);
  }
  const text = parts.join(" ");
  return text.length > 28 ? `${text.slice(0, 27)}…` : text;
}

export type Parsed = { ok: true; value: ParamValue | undefined } | { ok: false; message: string };

/**
 * Parses what was typed. Out-of-range numbers are kept (the server names the error on the node);
 * only text that is not a value of the type at all is refused here.
 */
export function parseParam(spec: ParamSpec, text: string): Parsed {
  const t = text.trim();
  if (t === "") {
    return spec.type === "shape" || spec.type === "floats"
      ? { ok: true, value: [] }
      : { ok: true, value: undefined };
  }
  switch (spec.type) {
    case "ints": {
      // one whole number for every spatial axis ("3"), or one per axis ("2, 3", "2×3")
      const nums = listOf(t);
      if (nums.length === 0 || nums.some((n) => !Number.isInteger(n)))
        return { ok: false, message: "Use a whole number, or one per axis, e.g. 3 or 2, 3." };
      return { ok: true, value: nums.length === 1 ? nums[0] : nums };
    }
    case "int":
    case "float": {
      const n = Number(t);
      return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, message: "Not a number." };
    }
    case "shape":
    case "floats": {
      const nums = listOf(t);
      if (nums.some((n) => !Number.isFinite(n)))
        return { ok: false, message: "Use numbers separated by commas, e.g. 2, 3." };
      if (spec.type !== "floats" && nums.some((n) => !Number.isInteger(n)))
        return { ok: false, message: "Use whole numbers." };
      return { ok: true, value: nums };
    }
    case "str":
    case "bool":
      return { ok: true, value: t };
    default:
      try {
        return { ok: true, value: JSON.parse(t) };
      } catch {
        return { ok: true, value: t };
      }
  }
}

/** Numbers written "2, 3", "[2,3]", "2 3", "2x3" or "2×3" (NaN where a part is not one). */
function listOf(text: string): number[] {
  return text
    .replace(/^[[(]|[\])]$/g, "")
    .split(/[\s,×x]+/)
    .filter(Boolean)
    .map(Number);
}

/** A client-side hint next to the field; the server's validation stays the authority. */
export function rangeHint(spec: ParamSpec, value: ParamValue): string | null {
  if (spec.type === "ints" && Array.isArray(value)) {
    if (spec.axes && value.length !== spec.axes)
      return `Expected one number, or ${spec.axes} (one per axis).`;
    for (const v of value) {
      const hint = rangeHint({ ...spec, type: "int" }, v);
      if (hint) return hint;
    }
    return null;
  }
  if (typeof value !== "number") return null;
  if ((spec.type === "int" || spec.type === "ints") && !Number.isInteger(value))
    return "Expected a whole number.";
  if (spec.min !== undefined && spec.min !== null && value < spec.min)
    return `Minimum is ${spec.min}.`;
  if (spec.max !== undefined && spec.max !== null && value > spec.max)
    return `Maximum is ${spec.max}.`;
  return null;
}

const NODE_PREFIX = /^node '[^']*'(?: \([^)]*\))?:\s*/;

/** A validation message as read where its node is already in view (its inspector, its field):
 * without the "node 'l1' (linear): " it starts with, and at its own field without
 * "parameter 'out_features' " either; first letter capitalised. */
export function plainMessage(message: string, param?: string): string {
  let text = message.replace(NODE_PREFIX, "");
  if (param && text.startsWith(`parameter '${param}' `)) {
    text = text.slice(`parameter '${param}' `.length);
  }
  return text ? text[0].toUpperCase() + text.slice(1) : message;
}
