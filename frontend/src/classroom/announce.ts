// What the explain panel's live region says at each step (screen readers hear the walk).
import { type ClassroomState, selectStep } from "./store";
import { enclosing } from "./walk";

/** "Step 4 of 21: forward, module instance b1 (module mix) as one block", or inside one:
 * "… inside b1 (module mix): forward b1/l". A string, so a store selector can return it. */
export function announcement(s: ClassroomState): string {
  const walk = s.walk;
  if (!walk || !s.open) return "";
  const step = selectStep(s);
  const total = walk.steps.length;
  if (!step) return `Start of the walk: ${total} steps.`;
  const head = `Step ${s.position} of ${total}: `;
  if (step.kind === "update") return `${head}update of a parameter.`;
  if (step.block) {
    const b = walk.blocks[step.node];
    return `${head}${step.kind}, module instance ${b.id} (module ${b.module}) as one block.`;
  }
  const around = enclosing(walk, step)
    .map((b) => `inside ${b.id} (module ${b.module})`)
    .join(", ");
  return `${head}${around ? `${around}: ` : ""}${step.kind} ${step.node}.`;
}
