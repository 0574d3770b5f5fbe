import { memo } from "react";
import { useTrain } from "./store";

/**
 * Drawn over an edge while a run is watched: thickness and colour by the magnitude of the
 * gradient flowing back through it, or of the weights of the block it feeds (or leaves,
 * for an explicit parameter). Levels are computed once per snapshot in the store.
 */
function EdgeLiveImpl(props: {
  id: string;
  path: string;
  source: string;
  sourceHandle?: string | null;
  target: string;
}) {
  const { id, path, source, sourceHandle, target } = props;
  const mode = useTrain((s) => s.edgeMode);
  const level = useTrain((s) => {
    if (s.edgeMode === "grad") {
      return (
        s.levels.grad[sourceHandle ? `${source}:${sourceHandle}` : source] ?? s.levels.grad[source]
      );
    }
    if (s.edgeMode === "weight") return s.levels.weight[target] ?? s.levels.weight[source];
    return undefined;
  });
  if (mode === "off" || level === undefined) return null;
  const color = mode === "grad" ? "224,112,43" : "47,111,219";
  return (
    <path
      d={path}
      className="edge-live"
      data-testid={`edge-live-${id}`}
      data-level={level.toFixed(3)}
      fill="none"
      style={{
        stroke: `rgba(${color},${0.25 + 0.75 * level})`,
        strokeWidth: 1.5 + 6 * level,
      }}
    />
  );
}

export const EdgeLive = memo(EdgeLiveImpl);
