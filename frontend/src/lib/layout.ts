import type { ElkNode } from "elkjs/lib/elk-api";
import type { FlowEdge, OpIndex, OpNode } from "./doc";

type XY = { x: number; y: number };

// ELK is large (~1.5 MB); load it only when someone asks for a layout.
let elkPromise: Promise<{ layout(graph: ElkNode): Promise<ElkNode> }> | null = null;
function loadElk() {
  elkPromise ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default());
  return elkPromise;
}

const portId = (node: string, dir: "in" | "out", port: string) =>
  `${node}\u0000${dir}\u0000${port}`;

/**
 * Layered layout, left to right, with ports in the order the op declares them (FIXED_ORDER),
 * which keeps edge crossings down for multi-input blocks. Returns new positions by node id.
 */
export async function layoutGraph(
  nodes: readonly OpNode[],
  edges: readonly FlowEdge[],
  ops: OpIndex,
): Promise<Record<string, XY>> {
  const elk = await loadElk();
  const declared = new Set<string>();
  for (const n of nodes) {
    const spec = ops[n.data.op];
    for (const p of spec?.inputs ?? []) declared.add(portId(n.id, "in", p.name));
    for (const p of spec?.outputs ?? []) declared.add(portId(n.id, "out", p.name));
  }
  const graph: ElkNode = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "80",
      "elk.spacing.nodeNode": "40",
      "elk.layered.nodePlacement.strategy": "NETWORK_SIMPLEX",
    },
    children: nodes.map((n) => {
      const spec = ops[n.data.op];
      return {
        id: n.id,
        width: n.measured?.width ?? 140,
        height: n.measured?.height ?? 60,
        layoutOptions: { "org.eclipse.elk.portConstraints": "FIXED_ORDER" },
        ports: [
          ...(spec?.inputs ?? []).map((p) => ({
            id: portId(n.id, "in", p.name),
            layoutOptions: { "org.eclipse.elk.port.side": "WEST" },
          })),
          ...(spec?.outputs ?? []).map((p) => ({
            id: portId(n.id, "out", p.name),
            layoutOptions: { "org.eclipse.elk.port.side": "EAST" },
          })),
        ],
      };
    }),
    edges: edges.map((e) => {
      const out = portId(e.source, "out", e.sourceHandle ?? "");
      const inp = portId(e.target, "in", e.targetHandle ?? "");
      // An edge on a port the spec does not declare attaches to the node itself.
      return {
        id: e.id,
        sources: [declared.has(out) ? out : e.source],
        targets: [declared.has(inp) ? inp : e.target],
      };
    }),
  };
  const result = await elk.layout(graph);
  const positions: Record<string, XY> = {};
  for (const c of result.children ?? []) positions[c.id] = { x: c.x ?? 0, y: c.y ?? 0 };
  return positions;
}
