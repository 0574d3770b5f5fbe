import {
  Background,
  type Connection,
  Controls,
  type FinalConnectionState,
  MarkerType,
  MiniMap,
  ReactFlow,
  useReactFlow,
  useStore,
} from "@xyflow/react";
import {
  type DragEvent,
  type MouseEvent as ReactMouseEvent,
  useCallback,
  useEffect,
  useRef,
} from "react";
import type { FlowEdge, OpNode } from "../lib/doc";
import { moduleOfOp } from "../lib/modules";
import { notationOf } from "../lib/notation";
import { connectSmart } from "../smart/store";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { OpNodeView } from "./OpNodeView";
import { OP_MIME, useAddOp } from "./placement";
import { openQuickAdd } from "./quickAdd";
import { fitReadable } from "./readable";
import { ShapeEdge } from "./ShapeEdge";

// Module scope: React Flow re-mounts every node when these objects change identity.
const nodeTypes = { op: OpNodeView };
const edgeTypes = { shape: ShapeEdge };
const defaultEdgeOptions = {
  type: "shape",
  markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
};
const deleteKeys = ["Backspace", "Delete"];
const multiSelectKeys = ["Meta", "Control"];

// Below this zoom, text is too small to read: hide it (CSS) so a big graph pans smoothly.
const DETAIL_ZOOM = 0.35;

const MINIMAP_COLORS: Record<string, string> = {
  observed: "#9fb3c8",
  constant: "#d8c9a3",
  parameter: "#c7a6e8",
  function: "#8ec5ff",
  cost: "#f5a97f",
};

export function Canvas() {
  const nodes = useEditor((s) => s.nodes);
  const opsReady = useEditor((s) => s.opsStatus === "ready");
  const edges = useEditor((s) => s.edges);
  const onNodesChange = useEditor((s) => s.onNodesChange);
  const onEdgesChange = useEditor((s) => s.onEdgesChange);
  const checkpoint = useEditor((s) => s.checkpoint);
  const loadSeq = useEditor((s) => s.loadSeq);
  // A boolean selector: nodes do not re-render on every zoom step, only across the threshold.
  const zoomedOut = useStore((s) => s.transform[2] < DETAIL_ZOOM);
  const rf = useReactFlow<OpNode, FlowEdge>();
  const addOp = useAddOp();
  const reconnected = useRef(false);
  const reconnecting = useRef(false);

  const notify = useUi((s) => s.notify);

  const onConnect = useCallback(
    (c: Connection) => {
      const refusal = connectSmart(c);
      if (refusal) notify("error", refusal);
    },
    [notify],
  );

  // A wire dropped on empty canvas: quick-add a node there, wired to the wire's end.
  const onConnectEnd = useCallback((e: MouseEvent | TouchEvent, state: FinalConnectionState) => {
    if (state.isValid || !state.fromNode || !state.fromHandle || reconnecting.current) return;
    const onPane = (e.target as Element | null)?.classList?.contains("react-flow__pane");
    if (!onPane) return;
    const p = "changedTouches" in e ? e.changedTouches[0] : e;
    openQuickAdd(
      { x: p.clientX, y: p.clientY },
      { node: state.fromNode.id, handle: state.fromHandle.id ?? null, type: state.fromHandle.type },
    );
  }, []);
  const onDoubleClick = useCallback((e: ReactMouseEvent) => {
    if ((e.target as Element).classList.contains("react-flow__pane"))
      openQuickAdd({ x: e.clientX, y: e.clientY });
  }, []);

  const onReconnectStart = useCallback(() => {
    reconnected.current = false;
    reconnecting.current = true;
  }, []);
  const onReconnect = useCallback(
    (old: FlowEdge, c: Connection) => {
      reconnected.current = true;
      const refusal = useEditor.getState().reconnect(old, c);
      if (refusal) notify("error", refusal);
    },
    [notify],
  );
  // Dragging an edge's end into empty space deletes it, as in most node editors.
  const onReconnectEnd = useCallback(
    (_: MouseEvent | TouchEvent, edge: FlowEdge, __: unknown, state: FinalConnectionState) => {
      if (!reconnected.current && !state.isValid) useEditor.getState().removeEdge(edge.id);
      reconnected.current = false;
      reconnecting.current = false; // onConnectEnd ran just before, and skipped this drop
    },
    [],
  );

  const onBeforeDelete = useCallback(async () => {
    checkpoint();
    return true;
  }, [checkpoint]);
  const onDragStart = useCallback(() => checkpoint(), [checkpoint]);
  // React Flow keeps a multi-selection when one of its nodes is clicked (to drag the group);
  // a plain click that did not drag should select just that node, as in other editors.
  const onNodeClick = useCallback((e: ReactMouseEvent, node: OpNode) => {
    if (!e.shiftKey && !e.ctrlKey && !e.metaKey) useEditor.getState().selectOnly([node.id]);
  }, []);

  // Double-clicking a module instance opens its definition.
  const onNodeDoubleClick = useCallback((_: ReactMouseEvent, node: OpNode) => {
    const module = moduleOfOp(node.data.op);
    if (module !== null) useEditor.getState().enterModule(module);
  }, []);

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(OP_MIME)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    }
  }, []);
  const onDrop = useCallback(
    (e: DragEvent) => {
      const op = e.dataTransfer.getData(OP_MIME);
      if (!op) return;
      e.preventDefault();
      addOp(op, { x: e.clientX, y: e.clientY });
    },
    [addOp],
  );

  // A freshly loaded graph is framed once its nodes have been measured.
  useEffect(() => {
    // Never on an empty graph: React Flow would keep the request and jump to the first node added.
    if (!loadSeq || useEditor.getState().nodes.length === 0) return;
    const t = setTimeout(() => fitReadable(rf), 60);
    return () => clearTimeout(t);
  }, [loadSeq, rf]);

  const nodeColor = useCallback((n: OpNode) => {
    const spec = useEditor.getState().ops[n.data.op];
    return MINIMAP_COLORS[notationOf(spec)] ?? "#ccc";
  }, []);

  return (
    <ReactFlow<OpNode, FlowEdge>
      className={zoomedOut ? "is-zoomed-out" : undefined}
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      edgeTypes={edgeTypes}
      defaultEdgeOptions={defaultEdgeOptions}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      onConnect={onConnect}
      onConnectEnd={onConnectEnd}
      onDoubleClick={onDoubleClick}
      zoomOnDoubleClick={false}
      onReconnectStart={onReconnectStart}
      onReconnect={onReconnect}
      onReconnectEnd={onReconnectEnd}
      onBeforeDelete={onBeforeDelete}
      onNodeClick={onNodeClick}
      onNodeDoubleClick={onNodeDoubleClick}
      onNodeDragStart={onDragStart}
      onSelectionDragStart={onDragStart}
      onDragOver={onDragOver}
      onDrop={onDrop}
      deleteKeyCode={deleteKeys}
      multiSelectionKeyCode={multiSelectKeys}
      minZoom={0.1}
      maxZoom={2.5}
      snapToGrid
      snapGrid={[10, 10]}
    >
      <Background gap={20} size={1} />
      <Controls showInteractive={false} />
      <MiniMap<OpNode> nodeColor={nodeColor} pannable zoomable />
      <ModuleBanner />
      {opsReady && nodes.length === 0 && (
        <div className="empty-hint" data-testid="empty-hint">
          <b>Draw a graph</b>
          <span>
            Drag blocks from the palette, click one, or press <kbd>/</kbd> and type its name.
            <br />
            Or open one of the <i>Examples</i>. Press <kbd>?</kbd> for every shortcut.
          </span>
        </div>
      )}
    </ReactFlow>
  );
}

/** While a module's definition is on the canvas: which one, and the way back. */
function ModuleBanner() {
  const editing = useEditor((s) => s.editing?.module);
  const leave = useEditor((s) => s.leaveModule);
  if (!editing) return null;
  return (
    <div className="module-banner" data-testid="module-banner">
      <span>
        Editing module <b>{editing}</b>: every instance follows.
      </span>
      <button type="button" data-testid="leave-module" onClick={leave}>
        Done
      </button>
    </div>
  );
}
