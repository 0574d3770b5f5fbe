import {
  Background,
  Controls,
  Handle,
  MarkerType,
  type NodeProps,
  Position,
  ReactFlow,
  ReactFlowProvider,
  type Node as RFNode,
} from "@xyflow/react";
import { memo, useMemo } from "react";
import { useEditor } from "../store/editor";
import { type BackNodeData, buildBackward } from "./backward";
import { selectCurrentNode, selectStep, useClassroom } from "./store";
import { Tex } from "./Tex";

type VjpNode = RFNode<BackNodeData, "vjp">;

function VjpView({ data }: NodeProps<VjpNode>) {
  // a module instance stepped over: all of its inner VJP blocks are the current step
  const current = useClassroom((s) => {
    const step = selectStep(s);
    if (step?.kind !== "backward") return false;
    return step.block ? data.id.startsWith(`${step.node}/`) : selectCurrentNode(s) === data.id;
  });
  return (
    <div
      className={`cx-vjp is-${data.kind}${current ? " is-current" : ""}`}
      data-testid={`bg-node-${data.id}`}
      data-kind={data.kind}
    >
      {data.ins.map((p, i) => (
        <span key={`in-${p.name}`}>
          <Handle
            type="target"
            position={Position.Right}
            id={`dy-${p.name}`}
            style={{ top: `${((i + 0.5) / data.ins.length) * 100}%` }}
            isConnectable={false}
          />
          {p.fanIn > 1 && (
            <span
              className="cx-sum"
              style={{ top: `${((i + 0.5) / data.ins.length) * 100}%` }}
              title="Several blocks use this value: the gradients they send back are summed"
            >
              Σ
            </span>
          )}
        </span>
      ))}
      {data.outs.map((p, i) => (
        <Handle
          key={`out-${p}`}
          type="source"
          position={Position.Left}
          id={`dx-${p}`}
          style={{ top: `${((i + 0.5) / data.outs.length) * 100}%` }}
          isConnectable={false}
        />
      ))}
      <div className="cx-vjp-title">
        {data.kind === "vjp" ? "VJP of " : data.kind === "seed" ? "seed · " : ""}
        {data.label} <code>{data.id}</code>
      </div>
      {data.kind === "data" && (
        <div className="cx-vjp-line">
          <Tex tex={`\\frac{\\partial C}{\\partial \\mathrm{${data.id.replace(/_/g, "\\_")}}}`} />
        </div>
      )}
      {data.kind === "none" && <div className="cx-vjp-line muted">no gradient</div>}
      {data.lines.map((l) => (
        <div key={l.tex} className={`cx-vjp-line is-${l.to}`}>
          <Tex tex={l.tex} />
          {l.to === "param" && <span className="muted"> → update</span>}
        </div>
      ))}
    </div>
  );
}

const nodeTypes = { vjp: memo(VjpView) };
const defaultEdgeOptions = {
  markerEnd: { type: MarkerType.ArrowClosed, width: 14, height: 14 },
  style: { stroke: "#c0563b" },
};

/** Backprop as propagation through a transformed graph: edges reversed, blocks → their VJPs. */
export function BackwardGraph() {
  const show = useClassroom((s) => s.backwardGraph);
  if (!show) return null;
  return (
    <div className="cx-backward" data-testid="backward-graph">
      <ReactFlowProvider>
        <BackwardFlow />
      </ReactFlowProvider>
    </div>
  );
}

function BackwardFlow() {
  const followDoc = useClassroom((s) => s.followDoc);
  const result = useClassroom((s) => s.result);
  const toggle = useClassroom((s) => s.toggleBackwardGraph);
  const ops = useEditor((s) => s.ops);
  const revision = useEditor((s) => s.revision);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the editor document changes with its revision
  const graph = useMemo(() => {
    const doc = followDoc ?? useEditor.getState().toDoc();
    return buildBackward(doc, ops, result);
  }, [followDoc, ops, result, revision]);
  return (
    <>
      <header className="cx-backward-head">
        <div>
          <b>The backward graph</b>
          <span className="muted">
            {" "}
            — every edge reversed, every block replaced by its vector-Jacobian product. Gradients
            flow from the costs (seed 1) back to the parameters; where a value was used twice they
            add up (Σ).
          </span>
        </div>
        <button
          type="button"
          className="btn ghost small"
          aria-label="Close the backward graph"
          data-testid="backward-graph-close"
          onClick={toggle}
        >
          ✕
        </button>
      </header>
      <div className="cx-backward-flow">
        <ReactFlow
          nodes={graph.nodes}
          edges={graph.edges}
          nodeTypes={nodeTypes}
          defaultEdgeOptions={defaultEdgeOptions}
          nodesDraggable={false}
          nodesConnectable={false}
          elementsSelectable={false}
          deleteKeyCode={null}
          fitView
          fitViewOptions={{ padding: 0.15 }}
          minZoom={0.1}
          proOptions={{ hideAttribution: true }}
        >
          <Background gap={20} size={1} />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
    </>
  );
}
