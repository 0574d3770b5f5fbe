import { Background, Controls, MarkerType, ReactFlow, useReactFlow } from "@xyflow/react";
import { useEffect, useMemo, useState } from "react";
import { api, editTokens, knownGraphs } from "../api/client";
import { OpNodeView } from "../flow/OpNodeView";
import { ShapeEdge } from "../flow/ShapeEdge";
import { docToFlow, type FlowEdge, type OpNode } from "../lib/doc";
import { Notice } from "../panels/Notice";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { describeError } from "./api";
import { ClassroomLayer } from "./ClassroomLayer";
import { ExplainPanel } from "./ExplainPanel";
import { FollowRun } from "./FollowRun";
import { FollowSettings } from "./FollowSettings";
import { followIdFromPath, startFollowing, useFollow } from "./follow";
import { RunWatch } from "./RunWatch";
import { useClassroom } from "./store";

// Module scope, as in the editor's canvas.
const nodeTypes = { op: OpNodeView };
const edgeTypes = { shape: ShapeEdge };
const defaultEdgeOptions = {
  type: "shape",
  markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
};

/**
 * A student's live view of the teacher's session (`/follow/{id}`): the graph, the explain step,
 * the gradient check and the run, read-only. "Fork" stores an editable copy of their own.
 */
export function FollowApp() {
  const id = followIdFromPath(window.location.pathname);
  useEffect(() => {
    if (!id) return;
    return startFollowing(id);
  }, [id]);
  useTeacherValidation();
  return (
    <div className="cx-follow" data-testid="follow-view">
      <FollowBar />
      <main className="canvas cx-follow-canvas" data-testid="canvas">
        <FollowCanvas />
        <ExplainPanel />
        <FollowRun />
      </main>
      <ClassroomLayer />
      <Notice />
    </div>
  );
}

function FollowBar() {
  const status = useFollow((s) => s.status);
  const detail = useFollow((s) => s.detail);
  const doc = useFollow((s) => s.doc);
  const followers = useFollow((s) => s.followers);
  const [busy, setBusy] = useState(false);
  const label = {
    connecting: "Connecting…",
    live: "Following live",
    ended: "Session ended",
    lost: "Reconnecting…",
  }[status];
  const fork = async () => {
    if (!doc) return;
    setBusy(true);
    try {
      const created = await api.createGraph({ ...doc, name: `${doc.name || "graph"} (my copy)` });
      editTokens.set(created.id, created.edit_token);
      knownGraphs.remember(created.id);
      window.location.assign(`/g/${created.id}`);
    } catch (err) {
      useUi.getState().notify("error", `Could not fork: ${describeError(err)}`);
      setBusy(false);
    }
  };
  return (
    <header className="topbar cx-follow-bar" data-testid="topbar">
      <span className="brand">Blockprop</span>
      <span className="cx-follow-name" data-testid="follow-graph-name">
        {doc?.name || "…"}
      </span>
      <span
        className={`cx-follow-status is-${status}`}
        data-testid="follow-status"
        data-state={status}
        title={detail ?? undefined}
      >
        ● {label}
        {status === "live" && followers > 1 ? ` · ${followers} following` : ""}
      </span>
      <span className="muted cx-follow-hint">read-only: the teacher drives</span>
      <RunWatch />
      <FollowSettings />
      <span className="cx-grow" />
      <button
        type="button"
        className="btn primary"
        data-testid="btn-fork"
        disabled={!doc || busy}
        title="Store an editable copy of this graph under your own link"
        onClick={() => void fork()}
      >
        Fork an editable copy
      </button>
    </header>
  );
}

function FollowCanvas() {
  const doc = useFollow((s) => s.doc);
  const graphVersion = useFollow((s) => s.graphVersion);
  const explaining = useClassroom((s) => s.open);
  const ops = useEditor((s) => s.ops);
  const ready = useEditor((s) => s.opsStatus === "ready");
  const rf = useReactFlow<OpNode, FlowEdge>();
  const { nodes, edges } = useMemo(
    () => (doc && ready ? docToFlow(doc, ops) : { nodes: [], edges: [] }),
    [doc, ops, ready],
  );
  // biome-ignore lint/correctness/useExhaustiveDependencies: frame the graph when a new one arrives
  useEffect(() => {
    if (nodes.length === 0) return;
    // after React Flow has measured the nodes and the canvas has made room for the panel
    const t = setTimeout(() => void rf.fitView({ padding: 0.15, maxZoom: 1.25, duration: 0 }), 250);
    return () => clearTimeout(t);
  }, [graphVersion, nodes.length, explaining, rf]);
  return (
    <ReactFlow<OpNode, FlowEdge>
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      edgeTypes={edgeTypes}
      defaultEdgeOptions={defaultEdgeOptions}
      nodesDraggable={false}
      nodesConnectable={false}
      elementsSelectable={false}
      edgesReconnectable={false}
      deleteKeyCode={null}
      selectionKeyCode={null}
      multiSelectionKeyCode={null}
      minZoom={0.1}
      maxZoom={2.5}
    >
      <Background gap={20} size={1} />
      <Controls showInteractive={false} />
    </ReactFlow>
  );
}

/** Nodes and edges read shapes and errors from the editor store's validation, which on this page
 * holds nothing else (the editor is not booted here): give it the teacher's graph's. */
function useTeacherValidation() {
  const doc = useFollow((s) => s.doc);
  const ready = useEditor((s) => s.opsStatus === "ready");
  useEffect(() => {
    if (!doc || !ready) return;
    let alive = true;
    api
      .validate(doc)
      .then((v) => alive && useEditor.getState().setValidation(v))
      .catch(() => undefined);
    return () => {
      alive = false;
    };
  }, [doc, ready]);
}
