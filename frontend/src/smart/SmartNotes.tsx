// The inspector's account of the smart defaults: what was set automatically (with undo), and
// the one-click fixes for the problems that have an obvious remedy.
import { useEditor } from "../store/editor";
import { useTrain } from "../train/store";
import { graphFixes } from "./defaults";
import { dataFacts } from "./facts";
import { applyChanges, useSmart } from "./store";

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** "Set automatically: …" for one node, while its params still hold what was set. */
export function AutoNotes({ id }: { id: string }) {
  const notes = useSmart((s) => s.notes[id]);
  const params = useEditor((s) => s.nodes.find((n) => n.id === id)?.data.params);
  const revision = useEditor((s) => s.revision);
  const live = (notes ?? []).filter((n) =>
    Object.entries(n.params).every(([k, v]) => same(params?.[k], v)),
  );
  if (!live.length) return null;
  return (
    <section className="smart-notes" data-testid="smart-notes" aria-label="Set automatically">
      <h3>Set automatically</h3>
      <ul className="plain">
        {live.map((n) => (
          <li key={`${n.revision}-${n.why}`}>
            {n.why}
            {n.revision === revision && (
              <button
                type="button"
                className="linklike"
                data-testid="smart-undo"
                onClick={() => useEditor.getState().undo()}
              >
                undo
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** One-click fixes; `id` narrows them to those touching one node (its own or its cost's). */
export function FixButtons({ id }: { id?: string }) {
  const nodes = useEditor((s) => s.nodes);
  const edges = useEditor((s) => s.edges);
  const ops = useEditor((s) => s.ops);
  const byNode = useEditor((s) => s.validation.byNode);
  // re-render when the dataset or its catalogue changes
  useTrain((s) => s.dataset);
  useTrain((s) => s.datasets);
  const fixes = graphFixes(nodes, edges, ops, byNode, dataFacts()).filter(
    (f) =>
      !id ||
      f.node === id ||
      edges.some((e) => e.source === f.node && e.target === id && byNode[id]?.length),
  );
  if (!fixes.length) return null;
  return (
    <section className="smart-fixes" data-testid="smart-fixes" aria-label="Suggested fixes">
      <h3>Fix</h3>
      {fixes.map((f) => (
        <button
          key={f.label}
          type="button"
          className="btn fix-btn"
          data-testid={`fix-${f.node}`}
          title={f.why}
          onClick={() => applyChanges([f])}
        >
          {f.label}
        </button>
      ))}
    </section>
  );
}
