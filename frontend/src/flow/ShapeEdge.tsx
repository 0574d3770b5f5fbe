import { BaseEdge, EdgeLabelRenderer, type EdgeProps, getBezierPath } from "@xyflow/react";
import { memo } from "react";
import { formatShape } from "../lib/notation";
import { useEditor } from "../store/editor";

/** An edge labelled with the shape of the value it carries, from the last validation. */
function ShapeEdgeImpl(props: EdgeProps) {
  const { id, source, sourceHandleId, markerEnd, selected } = props;
  const [path, labelX, labelY] = getBezierPath(props);
  const shape = useEditor(
    (s) => s.validation.shapes[`${source}:${sourceHandleId}`] ?? s.validation.shapes[source],
  );
  return (
    <>
      <BaseEdge
        id={id}
        path={path}
        markerEnd={markerEnd}
        className={selected ? "bp-edge is-selected" : "bp-edge"}
      />
      {shape && (
        <EdgeLabelRenderer>
          <div
            className="bp-edge-label nodrag nopan"
            data-testid={`edge-label-${id}`}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
          >
            {formatShape(shape)}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const ShapeEdge = memo(ShapeEdgeImpl);
