import { type FlowEdge, makeEdge, type OpNode } from "./doc";
import { freshId } from "./ids";
import { idStem } from "./modules";

/** A piece of a graph: some nodes and the links among them. */
export interface Fragment {
  nodes: OpNode[];
  edges: FlowEdge[];
}

/** The selected nodes with only the links inside the selection: links to the outside would
 * dangle once the fragment is pasted elsewhere. */
export function selectedFragment(nodes: readonly OpNode[], edges: readonly FlowEdge[]): Fragment {
  const picked = nodes.filter((n) => n.selected);
  const ids = new Set(picked.map((n) => n.id));
  return { nodes: picked, edges: edges.filter((e) => ids.has(e.source) && ids.has(e.target)) };
}

/** A copy of the fragment with fresh readable ids (not in `taken`), shifted by `offset`,
 * selected, with its inner links renamed to match. */
export function placeCopy(clip: Fragment, taken: ReadonlySet<string>, offset: number): Fragment {
  const used = new Set(taken);
  const rename = new Map<string, string>();
  for (const n of clip.nodes) {
    const id = freshId(idStem(n.data.op), used);
    used.add(id);
    rename.set(n.id, id);
  }
  const nodes = clip.nodes.map<OpNode>((n) => ({
    id: rename.get(n.id) as string,
    type: "op",
    position: { x: n.position.x + offset, y: n.position.y + offset },
    data: { op: n.data.op, params: structuredClone(n.data.params) },
    selected: true,
  }));
  const edges = clip.edges.map((e) =>
    makeEdge(
      rename.get(e.source) as string,
      e.sourceHandle ?? null,
      rename.get(e.target) as string,
      e.targetHandle as string,
    ),
  );
  return { nodes, edges };
}
