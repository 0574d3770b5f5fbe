import { BaseEdge, type EdgeProps, getBezierPath, useStore } from "@xyflow/react";
import { memo } from "react";
import { formatShape, notationOf } from "../lib/notation";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { EdgeLive } from "../train/EdgeLive";

// Monospace 10px: one character is 6px wide, so the label box is sized without measuring.
const CHAR_W = 6;
const PAD_X = 5;
const H = 15;

/**
 * An edge labelled with the shape of the value it carries, from the last validation.
 * The label is SVG inside the edge rather than an EdgeLabelRenderer portal: each portal
 * subscribes to React Flow's store, which made panning a 300-node graph stutter.
 */
function ShapeEdgeImpl(props: EdgeProps) {
  const { id, source, sourceHandleId, target, markerEnd, selected } = props;
  const [path, labelX, labelY] = getBezierPath(props);
  const shape = useEditor(
    (s) => s.validation.shapes[`${source}:${sourceHandleId}`] ?? s.validation.shapes[source],
  );
  const text = shape ? formatShape(shape) : "";
  const w = text.length * CHAR_W + 2 * PAD_X;
  const showVariables = useUi((s) => s.showVariables);
  return (
    <>
      <BaseEdge
        id={id}
        path={path}
        markerEnd={markerEnd}
        className={selected ? "bp-edge is-selected" : "bp-edge"}
      />
      <EdgeLive id={id} path={path} source={source} sourceHandle={sourceHandleId} target={target} />
      {text && (
        <g
          className="bp-edge-label"
          transform={`translate(${labelX - w / 2} ${labelY - H / 2})`}
          data-testid={`edge-label-${id}`}
        >
          <rect width={w} height={H} rx={4} />
          <text x={w / 2} y={H / 2} textAnchor="middle" dominantBaseline="central">
            {text}
          </text>
        </g>
      )}
      {showVariables && (
        <ComputedVariable id={id} source={source} x={labelX - w / 2 - 9} y={labelY} />
      )}
    </>
  );
}

/**
 * The notes draw a function's output, a computed variable, as an empty circle on its edge
 * (observed data are the shaded circles of their nodes). Mounted only while the view asks for
 * it: it reads the source node from React Flow's store, which every pan updates.
 */
function ComputedVariable(props: { id: string; source: string; x: number; y: number }) {
  const op = useStore((s) => s.nodeLookup.get(props.source)?.data?.op as string | undefined);
  const spec = useEditor((s) => (op ? s.ops[op] : undefined));
  if (!spec || notationOf(spec) !== "function") return null;
  return (
    <circle
      className="bp-edge-variable"
      cx={props.x}
      cy={props.y}
      r={6}
      data-testid={`edge-variable-${props.id}`}
    />
  );
}

export const ShapeEdge = memo(ShapeEdgeImpl);
