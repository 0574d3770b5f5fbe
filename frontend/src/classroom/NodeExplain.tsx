import { memo } from "react";
import { badgesFor, badgeTitle } from "./Gradcheck";
import { type ClassroomState, nodeStage, selectStep, useClassroom } from "./store";
import { compact } from "./tex";

/**
 * The classroom's slot in a node: a ring on the node the walk is at, the node's value (after its
 * forward step) and its gradient (after its backward step), and gradient-check badges.
 * Narrow selectors returning strings, so a step re-renders only the nodes whose text changes.
 */
function NodeExplainImpl({ id, block }: { id: string; block?: string }) {
  // a module instance (`block`) shows its output's numbers (`id`), and the ring while the
  // walk is at it as one block (stepped over) or at any of its inner nodes (stepped into)
  const current = useClassroom((s) => currentPhase(s, id, block));
  const value = useClassroom((s) => (nodeStage(s, id) === "none" ? "" : text(s, id, "value")));
  const grad = useClassroom((s) => (nodeStage(s, id) === "grad" ? text(s, id, "grad") : ""));
  const gc = useClassroom((s) => s.gradcheck.result);
  const badges = gc ? badgesFor(gc, block ?? id, block !== undefined) : null;
  if (!current && !value && !grad && !badges) return null;
  return (
    <>
      {current && (
        <div
          className={`cx-ring is-${current.split(" ")[0]}${current.endsWith(" whole") ? " is-block" : ""}`}
          data-testid={`explain-ring-${block ?? id}`}
          data-whole={current.endsWith(" whole")}
        />
      )}
      {(value || grad) && (
        <div className="cx-chips">
          {value && (
            <div className="cx-chip is-value" data-testid={`explain-value-${id}`} title="value">
              {value}
            </div>
          )}
          {grad && (
            <div className="cx-chip is-grad" data-testid={`explain-grad-${id}`} title="∂C/∂ value">
              ∂ {grad}
            </div>
          )}
        </div>
      )}
      {badges && gc && (
        <div className="cx-badges">
          {badges.value ? (
            <span
              className={`cx-badge ${badges.value.ok ? "is-ok" : "is-bad"}`}
              data-testid={`gc-${block ?? id}`}
              data-ok={badges.value.ok}
              data-error={badges.value.error}
              title={badgeTitle(badges.value, gc.tolerance)}
            >
              {badges.value.ok ? "✓" : "✗"} {compact(badges.value.error)}
            </span>
          ) : (
            badges.params.length === 0 && (
              <span
                className="cx-badge is-na"
                data-testid={`gc-${block ?? id}`}
                data-ok="na"
                title="No gradient flows here (integer values, a constant or a non-differentiable block)"
              >
                –
              </span>
            )
          )}
          {badges.params.map((b) => (
            <span
              key={b.key}
              className={`cx-badge is-param ${b.ok ? "is-ok" : "is-bad"}`}
              data-testid={`gc-${b.key}`}
              data-ok={b.ok}
              data-error={b.error}
              title={badgeTitle(b, gc.tolerance)}
            >
              {b.label} {b.ok ? "✓" : "✗"} {compact(b.error)}
            </span>
          ))}
        </div>
      )}
    </>
  );
}

function currentPhase(s: ClassroomState, id: string, block?: string): string | null {
  if (!s.open) return null;
  const step = selectStep(s);
  if (!step || step.kind === "update") return null;
  // one string (a stable selector value): "forward", or "forward whole" for the block as one step
  if (block !== undefined && step.node === block) return `${step.kind} whole`;
  const at = step.node === id || (block !== undefined && step.node.startsWith(`${block}/`));
  return at ? step.kind : null;
}

function text(s: ClassroomState, id: string, what: "value" | "grad"): string {
  const node = s.walk?.byId[id];
  if (!node) return "";
  const parts = node.outputs.map((o) =>
    compact(what === "value" ? o.value : (o.grad ?? undefined)),
  );
  return parts.filter(Boolean).join(" | ");
}

export const NodeExplain = memo(NodeExplainImpl);
