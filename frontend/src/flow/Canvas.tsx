import { Background, Controls, MiniMap, ReactFlow } from "@xyflow/react";

export function Canvas() {
  return (
    <ReactFlow nodes={[]} edges={[]} fitView proOptions={{ hideAttribution: false }}>
      <Background />
      <Controls />
      <MiniMap />
    </ReactFlow>
  );
}
