import { useClassroom } from "./store";
import { fmt } from "./tex";
import type { GradcheckResult } from "./types";

export interface Badge {
  key: string;
  /** what the badge names: the node's value, or a parameter */
  label: string;
  error: number;
  ok: boolean;
  checked: number | null;
  elements: number | null;
}

function badge(result: GradcheckResult, key: string, label: string): Badge {
  const error = result.errors[key];
  return {
    key,
    label,
    error,
    ok: error <= result.tolerance,
    checked: result.checked?.[key] ?? null,
    elements: result.elements?.[key] ?? null,
  };
}

/** The node's badge (the worst of its values) and one per parameter it owns. */
export function badgesFor(
  result: GradcheckResult,
  nodeId: string,
  block = false,
): { value: Badge | null; params: Badge[] } {
  let value: Badge | null = null;
  const params: Badge[] = [];
  if (block) return blockBadges(result, `${nodeId}/`);
  for (const key of Object.keys(result.errors)) {
    if (key === nodeId || key.startsWith(`${nodeId}:`)) {
      const b = badge(result, key, key);
      if (!value || b.error > value.error) value = b;
    } else if (key.startsWith(`${nodeId}.`) && !key.slice(nodeId.length + 1).includes(".")) {
      params.push(badge(result, key, key.slice(nodeId.length + 1)));
    }
  }
  return { value, params };
}

/** A module instance's badges: the worst of its inner values, and every inner parameter
 * (`l.W`; node ids hold no ".", so a "." marks a parameter). */
function blockBadges(result: GradcheckResult, prefix: string) {
  let value: Badge | null = null;
  const params: Badge[] = [];
  for (const key of Object.keys(result.errors)) {
    if (!key.startsWith(prefix)) continue;
    const inner = key.slice(prefix.length);
    if (inner.includes(".")) params.push(badge(result, key, inner));
    else {
      const b = badge(result, key, key);
      if (!value || b.error > value.error) value = b;
    }
  }
  return { value, params };
}

export const badgeTitle = (b: Badge, tolerance: number) =>
  `${b.key}: relative error ${fmt(b.error)} ${b.ok ? "≤" : ">"} ${fmt(tolerance)}` +
  (b.checked !== null && b.elements !== null && b.checked < b.elements
    ? ` (${b.checked} of ${b.elements} numbers checked, drawn at random)`
    : "");

/** The one-click check's verdict and what it compared. */
export function GradcheckSummary() {
  const gc = useClassroom((s) => s.gradcheck);
  if (gc.status === "idle") return null;
  if (gc.status === "loading") {
    return <p className="cx-gc muted">Checking gradients with finite differences…</p>;
  }
  if (gc.status === "error" || !gc.result) {
    return (
      <p className="cx-gc error-text" data-testid="gradcheck-error">
        Gradient check failed: {gc.error}
      </p>
    );
  }
  const r = gc.result;
  const items = Object.keys(r.errors)
    .map((k) => badge(r, k, k))
    .sort((a, b) => b.error - a.error);
  const bad = items.filter((b) => !b.ok);
  return (
    <section
      className={`cx-gc ${r.ok ? "is-ok" : "is-bad"}`}
      data-testid="gradcheck-summary"
      data-ok={r.ok}
      data-count={items.length}
    >
      <h3>
        {r.ok
          ? `✓ Backprop agrees with finite differences on all ${items.length} items`
          : `✗ ${bad.length} of ${items.length} items disagree`}
      </h3>
      <p>
        For each node's value z and each parameter w, the gradient ∂L/∂z from the backward pass is
        compared with the central difference (L(z + ε) − L(z − ε)) / 2ε, ε = 10⁻⁶, perturbing one
        number at a time in float64. A badge shows the largest relative error |a − n| / max(|a|,
        |n|, floor): green when at most {fmt(r.tolerance)}. Large matrices are checked on a random
        sample of their entries.
      </p>
      <ul className="cx-gc-list">
        {items.slice(0, 12).map((b) => (
          <li key={b.key} className={b.ok ? "is-ok" : "is-bad"} title={badgeTitle(b, r.tolerance)}>
            <code>{b.key}</code> {fmt(b.error)}
            {b.checked !== null && b.elements !== null && b.checked < b.elements && (
              <span className="muted">
                {" "}
                ({b.checked}/{b.elements})
              </span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
